"""Postfix logs: the real 3.7 log, both timestamp styles, year inference, tag styles."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsconsole.core.events import Event, Kind
from opsconsole.core.sources import make_parser
from opsconsole.core.sources.postfix import PostfixParser
from tests.helpers.clock import FakeClock


def epoch(*args: int, micro: int = 0) -> float:
    return datetime(*args, microsecond=micro, tzinfo=UTC).timestamp()


NOV22_2026 = epoch(2026, 11, 22, 5, 10, 0)
REAL_MAP = {"postfix/ip2": "127.0.0.2", "postfix/ip3": "127.0.0.3"}


def line(
    ts: str, tag: str, status: str = "sent", dsn: str = "2.0.0", rcpt: str = "a@b.test"
) -> str:
    text = {
        "sent": "250 2.0.0 Ok: queued as 4F3A",
        "bounced": f"host mx[192.0.2.1] said: 550 {dsn} <{rcpt}>: User unknown "
        "(in reply to RCPT TO command)",
        "deferred": f"host mx[192.0.2.1] said: 452 {dsn} Mailbox full "
        "(in reply to RCPT TO command)",
    }[status]
    return (
        f"{ts} mx {tag}[6141]: AA5A816C0B2: to=<{rcpt}>, relay=mx[192.0.2.1]:25, delay=0.02, "
        f"delays=0.01/0.01/0.01/0, dsn={dsn}, status={status} ({text})\n"
    )


def test_real_postfix_37_log(samples: Path) -> None:
    p = make_parser("postfix", REAL_MAP, now=FakeClock(NOV22_2026))
    with (samples / "postfix" / "maillog-real-3.7.log").open(encoding="utf-8") as f:
        events = list(p.feed(f))
    counts = Counter((e.ip, e.kind, e.hard) for e in events)
    assert counts == {
        ("127.0.0.2", Kind.DELIVERED, False): 5,
        ("127.0.0.3", Kind.BOUNCED, True): 3,
        ("127.0.0.3", Kind.DEFERRED, False): 1,
        (None, Kind.DELIVERED, False): 3,  # the NDRs through plain postfix/smtp
    }
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed, s.unattributed) == (65, 12, 53, 0, 3)
    bounce = next(e for e in events if e.kind is Kind.BOUNCED)
    assert bounce == Event(
        epoch(2026, 11, 22, 4, 57, 58),
        Kind.BOUNCED,
        "127.0.0.3",
        None,
        True,
        "dest.test",
        "5.1.1",
        "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bad1@dest.test>: Recipient address "
        "rejected: User unknown (in reply to RCPT TO command)",
    )
    deferred = next(e for e in events if e.kind is Kind.DEFERRED)
    assert deferred.status == "4.2.2"
    assert deferred.diag.endswith("452 4.2.2 Mailbox full (in reply to RCPT TO command)")


def test_plain_smtp_maps_via_postfix_key() -> None:
    p = PostfixParser({"postfix": "198.51.100.1"}, now=FakeClock(NOV22_2026))
    events = list(p.feed([line("Nov 22 04:57:58", "postfix/smtp")]))
    assert [e.ip for e in events] == ["198.51.100.1"]
    assert p.stats.unattributed == 0


def test_tag_styles_slash_dash_full_and_error() -> None:
    ip_map = {
        "postfix/out2": "203.0.113.2",
        "postfix-out3": "203.0.113.3",
        "postfix/out4/smtp": "203.0.113.4",  # the full tag is accepted as a key too
        "postfix": "203.0.113.1",
    }
    lines = [
        line("Nov 22 04:57:58", "postfix/out2/smtp"),
        line("Nov 22 04:57:58", "postfix-out3/smtp", "bounced", "5.7.1"),
        line("Nov 22 04:57:58", "postfix/out4/smtp", "deferred", "4.7.0"),
        line("Nov 22 04:57:58", "postfix/out5/smtp"),  # not in the map
        line("Nov 22 04:57:58", "postfix/error", "bounced", "5.1.2"),
        line("Nov 22 04:57:58", "postfix/out2/lmtp"),
        line("Nov 22 04:57:58", "postfix/discard"),
        # same shape from programs that are not delivery agents: ignored
        line("Nov 22 04:57:58", "postfix/qmgr"),
        line("Nov 22 04:57:58", "postfix/bounce"),
    ]
    p = PostfixParser(ip_map, now=FakeClock(NOV22_2026))
    events = list(p.feed(lines))
    assert [(e.ip, e.kind, e.hard, e.status) for e in events] == [
        ("203.0.113.2", Kind.DELIVERED, False, "2.0.0"),
        ("203.0.113.3", Kind.BOUNCED, False, "5.7.1"),
        ("203.0.113.4", Kind.DEFERRED, False, "4.7.0"),
        (None, Kind.DELIVERED, False, "2.0.0"),
        ("203.0.113.1", Kind.BOUNCED, True, "5.1.2"),
        ("203.0.113.2", Kind.DELIVERED, False, "2.0.0"),
        ("203.0.113.1", Kind.DELIVERED, False, "2.0.0"),
    ]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed, s.unattributed) == (9, 7, 2, 0, 1)


def test_error_agent_line_without_relay() -> None:
    text = (
        "Nov 22 04:57:58 mx postfix/error[7001]: 3F2A1C0B2: to=<x@gone.example>, "
        "orig_to=<alias@local.example>, relay=none, delay=1.2, delays=1.2/0/0/0, dsn=4.4.1, "
        "status=deferred (delivery temporarily suspended: connect to mx.gone.example"
        "[192.0.2.9]:25: Connection refused)"
    )
    p = PostfixParser({}, now=FakeClock(NOV22_2026))
    (ev,) = p.feed([text])
    assert ev.kind is Kind.DEFERRED
    assert ev.rcpt_domain == "gone.example"
    assert ev.status == "4.4.1"
    assert ev.diag.startswith("delivery temporarily suspended: connect to")
    assert ev.diag.endswith("Connection refused")


def test_rfc3339_timestamps() -> None:
    lines = [
        line("2026-11-22T04:57:58.123456+00:00", "postfix/ip2/smtp"),
        line("2026-11-22T05:57:58+01:00", "postfix/ip2/smtp"),
        line("2026-11-22T04:57:58Z", "postfix/ip2/smtp"),
        line("2026-11-22T04:57:58", "postfix/ip2/smtp"),  # no offset: UTC
        line("2026-13-22T04:57:58+00:00", "postfix/ip2/smtp"),  # no month 13
    ]
    p = PostfixParser(REAL_MAP, now=FakeClock(NOV22_2026))  # only the range check reads it
    events = list(p.feed(lines))
    base = epoch(2026, 11, 22, 4, 57, 58)
    assert [round(e.ts - base, 6) for e in events] == [0.123456, 0.0, 0.0, 0.0]
    assert {e.ip for e in events} == {"127.0.0.2"}
    assert p.stats.malformed == 1


def test_classic_year_inference_around_new_year() -> None:
    dec31 = line("Dec 31 23:59:50", "postfix/ip2/smtp")
    jan01 = line("Jan  1 00:00:10", "postfix/ip2/smtp")
    clock = FakeClock(epoch(2027, 1, 1, 0, 0, 30))
    p = PostfixParser(REAL_MAP, now=clock)
    # read just after New Year: December is last year, January this year
    assert [e.ts for e in p.feed([dec31, jan01])] == [
        epoch(2026, 12, 31, 23, 59, 50),
        epoch(2027, 1, 1, 0, 0, 10),
    ]
    # read just before New Year, the Dec 31 line is this year and never in the future
    clock.now = epoch(2026, 12, 31, 23, 59, 55)
    (ev,) = p.feed([dec31])
    assert ev.ts == epoch(2026, 12, 31, 23, 59, 50)
    # a Jan 1 line from a clock a few seconds ahead stays within the one-day tolerance
    (ev,) = p.feed([jan01])
    assert ev.ts == epoch(2027, 1, 1, 0, 0, 10)
    # mid-year, a December line is last year's (it would be months in the future)
    clock.now = epoch(2027, 6, 1)
    (ev,) = p.feed([dec31])
    assert ev.ts == epoch(2026, 12, 31, 23, 59, 50)
    # a line less than a day ahead of the clock keeps the current year
    clock.now = epoch(2027, 6, 1, 12, 0, 0)
    (ev,) = p.feed([line("Jun  2 04:00:00", "postfix/ip2/smtp")])
    assert ev.ts == epoch(2027, 6, 2, 4, 0, 0)
    # more than a day ahead: last year
    (ev,) = p.feed([line("Jun  3 04:00:00", "postfix/ip2/smtp")])
    assert ev.ts == epoch(2026, 6, 3, 4, 0, 0)


def test_feb29_goes_back_to_last_leap_year() -> None:
    p = PostfixParser(REAL_MAP, now=FakeClock(epoch(2027, 3, 1)))
    (ev,) = p.feed([line("Feb 29 10:00:00", "postfix/ip2/smtp")])
    assert ev.ts == epoch(2024, 2, 29, 10, 0, 0)


def test_now_is_required() -> None:
    with pytest.raises(TypeError):
        PostfixParser(REAL_MAP)  # type: ignore[call-arg]


def test_wall_clock_passed_explicitly() -> None:
    p = PostfixParser(REAL_MAP, now=time.time)
    (ev,) = p.feed([line("Nov 22 04:57:58", "postfix/ip2/smtp")])
    assert datetime.fromtimestamp(ev.ts, UTC).strftime("%m-%d %H:%M:%S") == "11-22 04:57:58"


def test_non_delivery_and_malformed_lines() -> None:
    lines = [
        "Nov 22 04:57:58 vm postfix/qmgr[6129]: AA5A816C0B2: removed",
        "Nov 22 04:57:58 vm postfix/smtp[6165]: connect to mx.example[192.0.2.1]:25: "
        "Connection timed out",
        "Nov 22 04:57:58 vm postfix/smtp[6165]: warning: TLS library problem",
        # address verification probe: not a delivery
        "Nov 22 04:57:58 vm postfix/smtp[6165]: 1A2B: to=<x@y.example>, relay=mx[1.2.3.4]:25, "
        "delay=1, delays=0/0/0/1, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)",
        "Nov 22 04:57:58 vm dovecot[111]: imap-login: Login: user=<x>",
        "",
        "this is not syslog at all",
        "Nov 22 04:57 vm postfix/smtp[1]: missing seconds",
        "Zzz 22 04:57:58 vm postfix/smtp[1]: 1A: to=<a@b.c>, dsn=2.0.0, status=sent (ok)",
        "Nov 32 04:57:58 vm postfix/smtp[1]: 1A: to=<a@b.c>, dsn=2.0.0, status=sent (ok)",
    ]
    p = PostfixParser(REAL_MAP, now=FakeClock(NOV22_2026))
    assert list(p.feed(lines)) == []
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed) == (10, 0, 6, 4)
    assert s.samples[0] == "this is not syslog at all"


def test_state_round_trip_continues_in_new_parser() -> None:
    lines = [
        line("Nov 22 04:57:58", "postfix/ip2/smtp"),
        line("Nov 22 04:57:59", "postfix/ip3/smtp", "bounced", "5.1.1"),
    ]
    p1 = PostfixParser(REAL_MAP, now=FakeClock(NOV22_2026))
    first = list(p1.feed(lines[:1]))
    p2 = PostfixParser(REAL_MAP, now=FakeClock(NOV22_2026))
    p2.set_state(p1.get_state())
    second = list(p2.feed(lines[1:]))
    whole = list(PostfixParser(REAL_MAP, now=FakeClock(NOV22_2026)).feed(lines))
    assert first + second == whole
    assert [(e.ip, e.kind) for e in whole] == [
        ("127.0.0.2", Kind.DELIVERED),
        ("127.0.0.3", Kind.BOUNCED),
    ]
