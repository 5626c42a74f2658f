"""The project's own JSONL event format and its writer."""

from __future__ import annotations

import json

from opsconsole.core.events import Event, Kind
from opsconsole.core.sources import make_parser
from opsconsole.core.sources.jsonl import JsonlParser, event_to_jsonl
from tests.helpers.clock import FakeClock

CLOCK = FakeClock(1_795_324_200.0)  # 2026-11-22T05:10:00Z: every sample is in the past


def test_round_trip_every_kind() -> None:
    events = [
        Event(1767225600.0, Kind.DELIVERED, "203.0.113.5", None, False, "gmail.com", "2.0.0", ""),
        Event(1767225601.5, Kind.BOUNCED, "203.0.113.5", "acme", True, "x.example", "5.1.1", "550"),
        Event(1767225602.0, Kind.DEFERRED, None, None, False, "yahoo.com", "4.7.0", "TSS04 «é»"),
        Event(1767225603.0, Kind.COMPLAINED, "2001:db8::1", "t2", False, "aol.com", "", ""),
    ]
    lines = [event_to_jsonl(e) + "\n" for e in events]
    assert all("\n" not in line[:-1] for line in lines)
    p = make_parser("jsonl", now=CLOCK)
    assert list(p.feed(lines)) == events
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed, s.unattributed) == (4, 4, 0, 0, 1)


def test_writer_output_shape() -> None:
    ev = Event(1767225600.0, Kind.BOUNCED, "203.0.113.5", None, True, "x.example", "5.1.1", "d")
    assert json.loads(event_to_jsonl(ev)) == {
        "ts": 1767225600.0,
        "kind": "bounced",
        "ip": "203.0.113.5",
        "subuser": None,
        "hard": True,
        "rcpt_domain": "x.example",
        "status": "5.1.1",
        "diag": "d",
    }


def test_iso_timestamps_defaults_and_source_mapping() -> None:
    lines = [
        '{"ts": "2026-01-01T00:00:00Z", "kind": "delivered", "ip": "192.0.2.1"}',
        '{"ts": "2026-01-01T01:00:00+01:00", "kind": "Bounced", "ip": null, "source": "esp-a",'
        ' "hard": true, "rcpt_domain": "X.Example", "status": "5.1.1"}',
        '{"ts": "2026-01-01T00:00:00", "kind": "deferred", "source": "nowhere"}',
        '{"ts": 1767225600, "kind": "complained", "ip": "", "source": "esp-a"}',
        '{"ts": 1767225600, "kind": "opened", "ip": "192.0.2.1"}',  # unknown kind: ignored
    ]
    p = JsonlParser({"esp-a": "198.51.100.1"}, now=CLOCK)
    events = list(p.feed(lines))
    assert events == [
        Event(1767225600.0, Kind.DELIVERED, "192.0.2.1"),
        Event(1767225600.0, Kind.BOUNCED, "198.51.100.1", None, True, "x.example", "5.1.1"),
        Event(1767225600.0, Kind.DEFERRED, None),
        Event(1767225600.0, Kind.COMPLAINED, "198.51.100.1"),
    ]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed, s.unattributed) == (5, 4, 1, 0, 1)


def test_wrong_shapes_are_malformed() -> None:
    lines = [
        "[]",
        "null",
        '{"kind": "delivered"}',  # no ts
        '{"ts": "yesterday", "kind": "delivered"}',
        '{"ts": true, "kind": "delivered"}',
        '{"ts": Infinity, "kind": "delivered"}',
        '{"ts": 1, "kind": 3}',
        '{"ts": 1, "kind": "delivered", "hard": "yes"}',
        '{"ts": 1, "kind": "delivered", "ip": 17}',
        '{"ts": 1, "kind": "delivered"',
        "\x00\x00",
        "  ",
    ]
    p = JsonlParser(now=CLOCK)
    assert list(p.feed(lines)) == []
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed) == (12, 0, 1, 11)


def test_state_round_trip_continues_in_new_parser() -> None:
    lines = [
        event_to_jsonl(Event(1.0, Kind.DELIVERED, "192.0.2.1")),
        event_to_jsonl(Event(2.0, Kind.BOUNCED, "192.0.2.1", hard=True)),
    ]
    p1 = JsonlParser(now=CLOCK)
    first = list(p1.feed(lines[:1]))
    p2 = JsonlParser(now=CLOCK)
    p2.set_state(p1.get_state())
    assert first + list(p2.feed(lines[1:])) == list(JsonlParser(now=CLOCK).feed(lines))
