"""BatchAggregate matches each distinct diagnostic once per batch (a memo): the hits must
be exactly those of matching every event's diagnostic on its own."""

from __future__ import annotations

import random

from opsconsole.core import aggregate
from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.events import Event, Kind
from opsconsole.core.providers import ProviderTable
from opsconsole.core.signatures import SignatureSet

DIAGS = [
    "",
    "250 2.0.0 OK",
    "host mta6.am0.yahoodns.net said: 421 4.7.0 [TSS04] Messages from 203.0.113.4"
    " temporarily deferred due to unexpected volume or user complaints",
    "host gmail-smtp-in.l.google.com said: 550-5.7.1 [203.0.113.4] Our system has detected"
    " that this message is likely unsolicited mail",
    "host mx.example said: 550 5.1.1 <u@example.com>: Recipient address rejected",
    "connect to mx.example[192.0.2.1]:25: Connection timed out",
    "host x said: 554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using"
    " zen.spamhaus.org",
]


def _events(n: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice((Kind.DELIVERED, Kind.BOUNCED, Kind.DEFERRED))
        out.append(
            Event(
                1_772_000_000.0 + i, kind, rng.choice(("203.0.113.4", "203.0.113.9", None)),
                None, kind is Kind.BOUNCED and rng.random() < 0.5,
                rng.choice(("gmail.com", "yahoo.com", "example.com", "")), "5.7.1",
                rng.choice(DIAGS),
            )
        )  # fmt: skip
    return out


def _truth(events: list[Event], sigs: SignatureSet, table: ProviderTable) -> dict:
    hits: dict = {}
    for ev in events:
        if ev.kind in (Kind.BOUNCED, Kind.DEFERRED) and ev.diag:
            sig = sigs.match(ev.diag)
            if sig is not None:
                prov = table.provider_of(ev.rcpt_domain) if ev.rcpt_domain else ""
                key = (ev.ip or "", prov, sig.id, int(ev.ts) // 60 * 60)
                hits[key] = hits.get(key, 0) + 1
    return hits


def test_memoised_hits_equal_matching_every_event() -> None:
    sigs, table = SignatureSet(), ProviderTable()
    events = _events(5_000, 3)
    agg = BatchAggregate(table, sigs)
    agg.add_all(events[:2_000])
    agg.add_all(events[2_000:])
    truth = _truth(events, sigs, table)
    assert truth  # the sample diagnostics do hit signatures
    assert agg.signature_hits == truth


def test_memo_is_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(aggregate, "_SIG_CACHE_MAX", 3)
    sigs, table = SignatureSet(), ProviderTable()
    events = [ev._replace(diag=f"{ev.diag} #{i % 50}") for i, ev in enumerate(_events(2_000, 4))]
    agg = BatchAggregate(table, sigs)
    agg.add_all(events)
    assert len(agg._sig_of) <= 3
    assert agg.signature_hits == _truth(events, sigs, table)


def test_absorbing_the_next_batch_equals_one_batch_of_both() -> None:
    """A group commit (core/engine/reader.py) merges consecutive batches' aggregates and
    stats: counters and hits as if the lines had been one batch, each batch's samples."""
    from opsconsole.core.sources.base import ParseStats

    evs = _events(3000, seed=11)
    cut = 1700
    both = BatchAggregate()
    both.add_all(evs)
    first, second = BatchAggregate(), BatchAggregate()
    first.add_all(evs[:cut])
    second.add_all(evs[cut:])
    samples = first.samples + second.samples
    first.absorb(second)
    assert first.buckets == both.buckets and first.rows() == both.rows()
    assert first.signature_hits == both.signature_hits
    assert (first.events, first.last_event_at) == (both.events, both.last_event_at)
    assert first.samples == samples
    a = ParseStats(3, 2, 1, 1, 0, ["x"], 0, 1, {"out1": 2})
    a.absorb(ParseStats(4, 3, 0, 2, 1, ["y", "z"], 1, 0, {"out1": 1, "out2": 5}))
    assert a == ParseStats(7, 5, 1, 3, 1, ["x", "y", "z"], 1, 1, {"out1": 3, "out2": 5})
