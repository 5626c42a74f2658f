"""In-memory aggregation of events into per-(ip, subuser, minute) counters for one batch.

The hot path of ingestion: one dict lookup and a few integer adds per event, no objects.
A batch's aggregate is written with one executemany upsert, in the same transaction as the
file checkpoint (see storage/ingest.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from opsconsole.core.events import Event, Kind

# Counter columns, in bucket order.
DELIVERED, BOUNCED, HARD, SOFT, DEFERRED, COMPLAINTS = range(6)
SAMPLES_PER_IP = 20  # bounce samples kept per IP per batch: enough to drill down, bounded


@dataclass
class EspPending:
    """ESP events that count only if their id is new: storage inserts the ids and folds
    just the new events into the batch, in the batch's own transaction (exactly once across
    webhook retries, re-ingested payload files, and the two together). ``engaged`` holds
    (event id, ts, "open"|"click", ip, subuser): engagement, never counted as sent."""

    source: str  # the ESP ("sendgrid", "mailgun", "ses"): ids are unique per ESP
    items: list[tuple[str, Event]] = field(default_factory=list)
    engaged: list[tuple[str, float, str, str | None, str | None]] = field(default_factory=list)


@dataclass
class BatchAggregate:
    """Counters of one batch. ``ip``/``subuser`` are ``''`` where the event had none."""

    buckets: dict[tuple[str, str, int], list[int]] = field(default_factory=dict)
    samples: list[Event] = field(default_factory=list)
    events: int = 0
    last_event_at: float | None = None
    _samples_by_ip: dict[str, int] = field(default_factory=dict)
    pending: EspPending | None = None  # ids to deduplicate before these count (ESP formats)

    def add_all(self, events: Iterable[Event]) -> None:
        buckets = self.buckets
        n = 0
        last = self.last_event_at
        bounced = Kind.BOUNCED
        for ev in events:
            n += 1
            ts, kind, ip, subuser, hard = ev[0], ev[1], ev[2] or "", ev[3] or "", ev[4]
            key = (ip, subuser, int(ts) // 60 * 60)
            row = buckets.get(key)
            if row is None:
                row = buckets[key] = [0, 0, 0, 0, 0, 0]
            if kind == bounced:
                row[BOUNCED] += 1
                row[HARD if hard else SOFT] += 1
                self._sample(ev, ip)
            else:
                row[_COLUMN[kind]] += 1
            if last is None or ts > last:
                last = ts
        self.events += n
        self.last_event_at = last

    def _sample(self, ev: Event, ip: str) -> None:
        k = self._samples_by_ip.get(ip, 0)
        if k < SAMPLES_PER_IP:
            self._samples_by_ip[ip] = k + 1
            self.samples.append(ev)

    def rows(self) -> list[tuple[str, str, int, int, int, int, int, int, int]]:
        return [(ip, su, m, *c) for (ip, su, m), c in self.buckets.items()]  # type: ignore[misc]


_COLUMN = {Kind.DELIVERED: DELIVERED, Kind.DEFERRED: DEFERRED, Kind.COMPLAINED: COMPLAINTS}
