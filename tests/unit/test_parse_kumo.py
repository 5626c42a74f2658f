"""KumoMTA JSON log records: the sample file, attribution, recipient lists, wrong shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opsconsole.core.events import Event, Kind
from opsconsole.core.sources import make_parser
from opsconsole.core.sources.kumo import KumoParser, source_ip
from tests.helpers.clock import FakeClock

CLOCK = FakeClock(1_795_324_200.0)  # 2026-11-22T05:10:00Z: every sample is in the past


def record(rtype: str = "Delivery", **fields: Any) -> str:
    obj: dict[str, Any] = {
        "type": rtype,
        "id": "1d98076abbbc11ed940250ebf67f93bd",
        "sender": "noreply@sender.example",
        "recipient": "user@Example.COM",
        "queue": "example.com",
        "site": "mx.example.com:25",
        "response": {
            "code": 250,
            "enhanced_code": {"class": 2, "subject": 0, "detail": 0},
            "content": "OK",
            "command": ".",
        },
        "timestamp": 1678069691,
        "bounce_classification": "Uncategorized",
        "egress_pool": "pool0",
        "egress_source": "source2",
        "meta": {"tenant": "acme"},
    }
    obj.update(fields)
    return json.dumps(obj)


def test_sample_file(samples: Path) -> None:
    p = make_parser("kumo", {"source3": "10.0.0.3", "source2": "192.0.2.99"}, now=CLOCK)
    with (samples / "kumo" / "log-sample.jsonl").open(encoding="utf-8") as f:
        events = list(p.feed(f))
    assert events == [
        Event(
            1678069691.0,
            Kind.DELIVERED,
            "10.0.0.2",  # source_address wins over egress_source
            "acme",
            False,
            "example.com",
            "2.0.0",
            "OK ids=8a5475ccbbc611eda12250ebf67f93bd",
        ),
        Event(
            1678069692.0,
            Kind.BOUNCED,
            "10.0.0.3",  # no source_address: egress_source through the map
            "acme",
            True,
            "example.com",
            "5.1.1",
            "5.1.1 The email account that you tried to reach does not exist.",
            "InvalidRecipient",  # bounce_classification, passed through
        ),
        Event(
            1678069693.0,
            Kind.DEFERRED,
            "10.0.0.2",
            None,  # meta has no tenant
            False,
            "yahoo.com",
            "4.7.0",
            "[TSS04] Messages from 10.0.0.2 temporarily deferred due to unexpected volume or "
            "user complaints",
            "Uncategorized",
        ),
    ]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed, s.unattributed) == (3, 3, 0, 0, 0)


def test_source_address_vs_egress_source() -> None:
    lines = [
        record(source_address={"address": "10.0.0.1:53210", "protocol": "tcp"}),
        record(source_address={"address": "[2001:db8::1]:25"}),
        record(source_address={"address": "2001:db8::7"}),
        record(source_address={"address": "not-an-ip:25"}, egress_source="s9"),
        record(source_address=None, egress_source="s9"),
        record(egress_source="unknown-source"),
    ]
    p = KumoParser({"s9": "198.51.100.9"}, now=CLOCK)
    assert [e.ip for e in p.feed(lines)] == [
        "10.0.0.1",
        "2001:db8::1",
        "2001:db8::7",
        "198.51.100.9",
        "198.51.100.9",
        None,
    ]
    assert p.stats.unattributed == 1


def test_source_ip_helper() -> None:
    assert source_ip("10.0.0.1:53210") == "10.0.0.1"
    assert source_ip("10.0.0.1") == "10.0.0.1"
    assert source_ip("[::1]:25") == "::1"
    assert source_ip("[::1") is None
    assert source_ip("") is None


def test_recipient_list_gives_one_event_each() -> None:
    lines = [
        record(recipient=["a@one.example", "b@two.example", "c@One.Example"]),
        record(recipient=[]),
        record(recipient=["ok@x.example", 5]),
        record(recipient=17),
    ]
    p = KumoParser(now=CLOCK)
    events = list(p.feed(lines))
    assert [e.rcpt_domain for e in events] == ["one.example", "two.example", "one.example"]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed) == (4, 3, 1, 2)


def test_record_types() -> None:
    failure = {
        "code": 550,
        "enhanced_code": {"class": 5, "subject": 7, "detail": 1},
        "content": "5.7.1 blocked",
    }
    lines = [
        record("Delivery"),
        record("Bounce", response=failure),
        record(
            "Bounce",
            response={"code": 550, "enhanced_code": None, "content": "550 5.1.1 no such user"},
        ),
        record("Expiration", response={"code": 551, "content": "Next delivery time expired"}),
        record("AdminBounce", bounce_classification="InvalidRecipient", response={}),
        record("OOB", bounce_classification="BadDomain"),
        record("TransientFailure", response={"code": 421, "content": "4.7.0 try later"}),
        record("Feedback", feedback_report={"feedback_type": "abuse"}),
        record("Reception"),
        record("Rejection"),
        record("DeferredInjection"),
    ]
    p = KumoParser(now=CLOCK)
    events = list(p.feed(lines))
    assert [(e.kind, e.hard, e.status) for e in events] == [
        (Kind.DELIVERED, False, "2.0.0"),
        (Kind.BOUNCED, False, "5.7.1"),
        (Kind.BOUNCED, True, "5.1.1"),  # from response.content
        (Kind.BOUNCED, False, ""),
        (Kind.BOUNCED, True, ""),  # by classification
        (Kind.BOUNCED, True, "2.0.0"),
        (Kind.DEFERRED, False, "4.7.0"),
        (Kind.COMPLAINED, False, "2.0.0"),
    ]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed) == (11, 8, 3, 0)


def test_wrong_shapes_are_malformed() -> None:
    lines = [
        "[1, 2, 3]",
        '"Delivery"',
        "{}",
        '{"type": 5, "timestamp": 1}',
        record(timestamp="1678069691"),
        record(timestamp=True),
        record(timestamp=None),
        '{"type": "Delivery", "timestamp": NaN}',
        '{"type": "Delivery", "timestamp": 1',  # truncated
        "not json",
        "",
        record(response="weird", meta=["x"]),  # odd optional fields are tolerated
    ]
    p = KumoParser(now=CLOCK)
    events = list(p.feed(lines))
    assert [(e.status, e.subuser, e.diag) for e in events] == [("", None, "")]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed) == (12, 1, 1, 10)


def test_state_round_trip_continues_in_new_parser() -> None:
    lines = [record(), record("Bounce")]
    p1 = KumoParser({"source2": "192.0.2.2"}, now=CLOCK)
    first = list(p1.feed(lines[:1]))
    p2 = KumoParser({"source2": "192.0.2.2"}, now=CLOCK)
    p2.set_state(p1.get_state())
    second = list(p2.feed(lines[1:]))
    assert [(e.kind, e.ip) for e in first + second] == [
        (Kind.DELIVERED, "192.0.2.2"),
        (Kind.BOUNCED, "192.0.2.2"),
    ]
