"""What every ESP payload parser returns, and the shared bits of their plumbing.

An ESP payload holds many records of unequal worth: outcomes (delivered, bounced, deferred,
complained) become :class:`Event` s keyed by the ESP's event id, so storage can deduplicate a
retried POST; engagement (opens, clicks) is counted, never as ``sent``, keyed by the
*sending* IP it can be joined to; suppressions (SendGrid ``dropped``, Mailgun
``suppress-*``, SES suppression-list bounces) never left the ESP, so they are no bounce of
any IP and are only counted. Parsers never raise on input: a bad record is counted as
malformed and a few are kept as samples; a payload that is unusable as a whole sets
``invalid`` so the receiver can answer 400.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsconsole.core.aggregate import EspPending
from opsconsole.core.events import Event
from opsconsole.core.sources.base import MAX_SAMPLE_CHARS, MAX_SAMPLES, ParseStats

# (kind "open"|"click", sending ip, subuser) -> count
EngagementKey = tuple[str, str | None, str | None]
Engaged = tuple[str, float, str, str | None, str | None]
_decode = json.JSONDecoder().decode


@dataclass(slots=True)
class EspBatch:
    """The parse of one payload. ``items`` and ``categories`` are parallel lists: the ESP's
    own bounce taxonomy (``bounce_classification``, Mailgun ``reason``, SES ``bounceSubType``)
    travels beside each event until Event grows a category field."""

    items: list[tuple[str, Event]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    engagement: dict[EngagementKey, int] = field(default_factory=dict)
    # (event id, ts, kind, ip, subuser) of engagement records that carry an id, so storage
    # counts a retried open/click once, like an outcome
    engaged: list[Engaged] = field(default_factory=list)
    ignored: int = 0
    suppressed: int = 0
    malformed: int = 0
    unattributed: int = 0
    invalid: bool = False  # the payload as a whole is unusable (not JSON, wrong shape)
    samples: list[str] = field(default_factory=list)

    def add(self, event_id: str, ev: Event, category: str = "") -> None:
        self.items.append((event_id, ev))
        self.categories.append(category)
        if ev.ip is None:
            self.unattributed += 1

    def engage(
        self,
        kind: str,
        ip: str | None,
        subuser: str | None,
        event_id: object = None,
        ts: float | None = None,
    ) -> None:
        key = (kind, ip, subuser)
        self.engagement[key] = self.engagement.get(key, 0) + 1
        if isinstance(event_id, str) and event_id and ts is not None:
            self.engaged.append((event_id, ts, kind, ip, subuser))

    @property
    def engagement_total(self) -> int:
        return sum(self.engagement.values())

    def bad(self, record: object) -> None:
        self.malformed += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(_sample(record))

    def reject(self, record: object) -> EspBatch:
        """Mark the whole payload unusable (one malformed count) and return self."""
        self.invalid = True
        self.bad(record)
        return self


def _sample(record: object) -> str:
    try:
        text = record if isinstance(record, str) else json.dumps(record, default=str)
    except Exception:  # a sample must never be the thing that raises
        text = repr(record)
    return text[:MAX_SAMPLE_CHARS]


def decode_json(body: bytes | str) -> tuple[Any, bool]:
    """``(document, ok)``; never raises (bad UTF-8, bad JSON, absurd nesting)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        return _decode(text.strip()), True
    except Exception:
        return None, False


def number_ts(value: object) -> float | None:
    """A finite, non-negative unix timestamp from an int/float (not bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    ts = float(value)
    return ts if math.isfinite(ts) and ts >= 0 else None


def iso_ts(value: object) -> float | None:
    """Unix seconds from an ISO-8601 string with offset or ``Z`` (SES, SNS), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None  # a naive time is ambiguous; ESPs always send UTC with a marker
    return dt.timestamp()


def domain_of(rcpt: object) -> str:
    return rcpt.rpartition("@")[2].strip("<> ").lower() if isinstance(rcpt, str) else ""


def valid_ip(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def text(value: object) -> str:
    return value if isinstance(value, str) else ""


class MessageIpIndex:
    """Bounded LRU from an ESP message id to the (sending ip, subuser) first seen for it.

    SendGrid names the sending IP on delivery events only; a spam report or an open of the
    same message arrives later without one. The receiver (or line parser) keeps one index for
    its lifetime so the later events join to the earlier; the bound keeps memory flat, and a
    miss just leaves the event unattributed.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._map: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._map)

    def remember(self, message_id: str, ip: str, subuser: str | None) -> None:
        m = self._map
        if message_id in m:
            m.move_to_end(message_id)
        m[message_id] = (ip, subuser)
        if len(m) > self.max_entries:
            m.popitem(last=False)

    def lookup(self, message_id: str) -> tuple[str, str | None] | None:
        hit = self._map.get(message_id)
        if hit is not None:
            self._map.move_to_end(message_id)
        return hit


class PayloadLineParser:
    """The ``Parser`` protocol over saved payloads, one JSON document per line.

    Subclasses implement ``parse(line) -> EspBatch`` with the very function the receiver
    uses; ``feed`` flattens batches to events and folds the counts into ``stats``
    (engagement and suppressed records count as ignored there; the detail stays on
    ``engagement``/``suppressed``). Saved files are the operator's own, so no signature
    is checked on this path.
    """

    format: str = ""

    def __init__(self) -> None:
        self.stats = ParseStats()
        self.engagement: dict[EngagementKey, int] = {}
        self.suppressed = 0

    def parse(self, line: str) -> EspBatch:
        raise NotImplementedError

    def feed_batches(self, lines: Iterable[str]) -> Iterator[EspBatch]:
        stats = self.stats
        for line in lines:
            stats.lines += 1
            if not line.strip():
                stats.ignored += 1
                continue
            try:
                batch = self.parse(line)
            except Exception:  # parse functions do not raise; this is the last guard
                stats.bad(line)
                continue
            stats.events += len(batch.items)
            stats.unattributed += batch.unattributed
            stats.ignored += batch.ignored + batch.suppressed + batch.engagement_total
            stats.malformed += batch.malformed
            for s in batch.samples:
                if len(stats.samples) < MAX_SAMPLES:
                    stats.samples.append(s)
            self.suppressed += batch.suppressed
            for key, n in batch.engagement.items():
                self.engagement[key] = self.engagement.get(key, 0) + n
            yield batch

    def feed_pending(self, lines: Iterable[str]) -> EspPending:
        """The events of ``lines`` keyed by id, for storage to count only those it has
        not stored before (from a webhook or an earlier ingest)."""
        pending = EspPending(self.format)
        for batch in self.feed_batches(lines):
            pending.items.extend(batch.items)
            pending.engaged.extend(batch.engaged)
        return pending

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        for batch in self.feed_batches(lines):
            for _, ev in batch.items:
                yield ev

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: object) -> None:
        return None
