"""Poison values: one bad line in a batch of good ones. The good ones are all counted, the
bad one is counted malformed (or, where the format says the field is optional, the event
falls back to the other attribution rules); nothing out of range ever comes out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from opsconsole.core.events import Event, Kind
from opsconsole.core.sources import make_parser
from opsconsole.core.sources.base import MAX_NAME, MAX_TEXT, MIN_TS
from tests.helpers.clock import FakeClock

NOW = datetime(2026, 11, 22, 5, 10, tzinfo=UTC).timestamp()
IP_MAP = {"v1": "192.0.2.1", "postfix/out2": "203.0.113.2", "src1": "10.0.0.9"}
TIME_POISON_NUMBERS = ["1" * 20, "202611220457", "1e19", "-5", "0", "631151999"]


def run(fmt: str, good: str, bad: str, header: str | None = None) -> tuple[list[Event], Any]:
    parser = make_parser(fmt, IP_MAP, now=FakeClock(NOW))
    lines = ([header] if header else []) + [good, bad, good, good]
    events = list(parser.feed(lines))
    for ev in events:
        assert MIN_TS <= ev.ts <= NOW + 86_400
    return events, parser.stats


def assert_bad_counted(fmt: str, good: str, bad: str, header: str | None = None) -> None:
    events, s = run(fmt, good, bad, header)
    assert len(events) == 3 and s.events == 3, bad[:200]
    assert s.malformed == 1, bad[:200]
    assert s.lines == 4 + (header is not None)


# -- PowerMTA -------------------------------------------------------------------------------

PMTA_HEADER = "type,timeLogged,rcpt,dsnStatus,dsnDiag,bounceCat,dlvSourceIp,vmta,repSourceIp"


def pmta(time: str = "2026-11-22 04:57:58+0000", ip: str = "192.0.2.1", **kw: str) -> str:
    f = {"type": "b", "diag": "smtp;550 5.1.1 no", "cat": "bad-mailbox", "vmta": "v1", "rep": ""}
    f.update(kw)
    return (
        f"{f['type']},{time},u@x.example,5.1.1,{f['diag']},{f['cat']},{ip},{f['vmta']},{f['rep']}"
    )


PMTA_GOOD = pmta()


@pytest.mark.parametrize(
    "time",
    [
        *TIME_POISON_NUMBERS,
        "1989-12-31 23:59:59+0000",
        "2026-11-23 05:10:01+0000",  # more than a day after now
        "9999-12-31 23:59:59+0000",
        "inf",
        "nan",
        "Infinity",
    ],
)
def test_pmta_time_out_of_range(time: str) -> None:
    assert_bad_counted("pmta", PMTA_GOOD, pmta(time=time), PMTA_HEADER)


@pytest.mark.parametrize(
    "ip",
    [
        "999.1.1.1",
        "../x",
        "[/x]",
        "192.0.2.1\x00",
        " 192.0.2.1",
        "192.0.2.1 ",
        "1.2.3",
        "fe80::1%eth0",
    ],
)
def test_pmta_invalid_dlv_source_ip_is_malformed(ip: str) -> None:
    assert_bad_counted("pmta", PMTA_GOOD, pmta(ip=ip), PMTA_HEADER)


def test_pmta_ipv6_is_normalised() -> None:
    events, _ = run("pmta", PMTA_GOOD, pmta(ip="2001:0DB8:0000:0000::0001"), PMTA_HEADER)
    assert events[1].ip == "2001:db8::1"
    events, _ = run("pmta", PMTA_GOOD, pmta(ip="::ffff:192.0.2.1"), PMTA_HEADER)
    assert {e.ip for e in events} == {"192.0.2.1"}  # one key, not two that look alike


def test_pmta_feedback_loop_uses_rep_source_ip_when_valid() -> None:
    header = PMTA_HEADER
    good = pmta(type="f", ip="", rep="198.51.100.5", cat="")
    events, s = run("pmta", good, pmta(type="f", ip="", rep="999.9.9.9", cat=""), header)
    assert [e.ip for e in events] == ["198.51.100.5", "192.0.2.1", "198.51.100.5", "198.51.100.5"]
    assert all(e.kind is Kind.COMPLAINED for e in events) and s.malformed == 0


def test_pmta_text_and_names_bounded() -> None:
    bad = pmta(diag="d" * 100_000 + "\x00", vmta="v\x1b[31m1\u202e" + "n" * 500, cat="spam-related")
    events, s = run("pmta", PMTA_GOOD, bad, PMTA_HEADER)
    assert s.malformed == 0
    ev = events[1]
    assert len(ev.diag) == MAX_TEXT
    assert ev.subuser is not None and len(ev.subuser) == MAX_NAME
    assert ev.subuser.startswith("v[31m1nnn") and "\x1b" not in ev.subuser
    assert ev.category == "spam-related"


# -- Postfix --------------------------------------------------------------------------------


def postfix(stamp: str = "Nov 22 04:57:58", rcpt: str = "<a@b.example>", diag: str = "ok") -> str:
    return (
        f"{stamp} mx postfix/out2/smtp[1]: 1A2B3C4D5E: to={rcpt}, relay=mx.b.example"
        f"[192.0.2.9]:25, delay=1, delays=1/0/0/0, dsn=5.7.1, status=bounced (550 5.7.1 {diag})"
    )


POSTFIX_GOOD = postfix()


@pytest.mark.parametrize(
    "stamp",
    [
        "1989-12-31T23:59:59+00:00",
        "2026-11-23T05:10:01+00:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2026-11-22T04:57:99+00:00",
    ],
)
def test_postfix_time_out_of_range(stamp: str) -> None:
    assert_bad_counted("postfix", POSTFIX_GOOD, postfix(stamp=stamp))


def test_postfix_nul_invalid_utf8_and_long_text() -> None:
    bad = postfix(rcpt="<a\x00@b\ufffd.example>", diag="\x00\ufffd" * 50_000)
    events, s = run("postfix", POSTFIX_GOOD, bad)
    assert s.malformed == 0 and len(events) == 4
    assert len(events[1].diag) == MAX_TEXT
    assert events[1].rcpt_domain == "b\ufffd.example"


# -- KumoMTA --------------------------------------------------------------------------------


def kumo(**fields: Any) -> str:
    obj: dict[str, Any] = {
        "type": "Bounce",
        "timestamp": 1795323000,
        "recipient": "u@x.example",
        "egress_source": "src1",
        "source_address": {"address": "10.0.0.1:53210"},
        "response": {"code": 550, "content": "5.7.1 no"},
        "bounce_classification": "PolicyRelated",
        "provider_name": "gmail",
        "meta": {"tenant": "acme"},
    }
    obj.update(fields)
    return json.dumps(obj)


KUMO_GOOD = kumo()


@pytest.mark.parametrize("ts", [1e19, float("inf"), float("-inf"), float("nan"), -1, 0, 1e300])
def test_kumo_time_out_of_range(ts: float) -> None:
    assert_bad_counted("kumo", KUMO_GOOD, kumo(timestamp=ts))


def test_kumo_time_more_than_a_day_ahead() -> None:
    assert_bad_counted("kumo", KUMO_GOOD, kumo(timestamp=NOW + 86_401))


@pytest.mark.parametrize(
    "address", ["999.1.1.1:25", "../x", "[/x]", "10.0.0.1\x00:25", " 10.0.0.1:25", "[::1"]
)
def test_kumo_invalid_source_address_falls_back_to_egress_source(address: str) -> None:
    events, s = run("kumo", KUMO_GOOD, kumo(source_address={"address": address}))
    assert s.malformed == 0
    assert [e.ip for e in events] == ["10.0.0.1", "10.0.0.9", "10.0.0.1", "10.0.0.1"]


def test_kumo_category_provider_and_bounded_names() -> None:
    bad = kumo(
        meta={"tenant": "ac\x00me\u202e" + "t" * 500}, response={"content": "x\x00" * 60_000}
    )
    events, s = run("kumo", KUMO_GOOD, bad)
    assert s.malformed == 0
    assert (events[0].category, events[0].provider) == ("PolicyRelated", "gmail")
    assert events[1].subuser is not None and events[1].subuser.startswith("acmettt")
    assert len(events[1].subuser) == MAX_NAME
    assert len(events[1].diag) == MAX_TEXT


# -- jsonl ----------------------------------------------------------------------------------


def jsonl(**fields: Any) -> str:
    obj: dict[str, Any] = {"ts": 1795323000.0, "kind": "bounced", "ip": "192.0.2.7"}
    obj.update(fields)
    return json.dumps(obj)


JSONL_GOOD = jsonl()


@pytest.mark.parametrize(
    "ts",
    [1e19, float("inf"), float("nan"), -1, 0, NOW + 86_401, "1900-01-01T00:00:00Z",
     "9999-12-31T23:59:59Z"],
)  # fmt: skip
def test_jsonl_time_out_of_range(ts: Any) -> None:
    assert_bad_counted("jsonl", JSONL_GOOD, jsonl(ts=ts))


@pytest.mark.parametrize("ip", ["999.1.1.1", "../x", "[/x]", "192.0.2.7\x00", " 192.0.2.7"])
def test_jsonl_invalid_ip_is_malformed(ip: str) -> None:
    assert_bad_counted("jsonl", JSONL_GOOD, jsonl(ip=ip))


def test_jsonl_ipv6_normalised_and_category_round_trip() -> None:
    events, _ = run("jsonl", JSONL_GOOD, jsonl(ip="2001:DB8:0::1", category="bad-mailbox"))
    assert (events[1].ip, events[1].category) == ("2001:db8::1", "bad-mailbox")
