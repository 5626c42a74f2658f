"""PowerMTA accounting CSV: real guide lines and every trap from formats.md."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from opsconsole.core.events import Event, Kind
from opsconsole.core.sources import make_parser
from opsconsole.core.sources.pmta import PmtaParser
from tests.helpers.clock import FakeClock

CLOCK = FakeClock(1_795_324_200.0)  # 2026-11-22T05:10:00Z: every sample is in the past

FULL_HEADER = (
    "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,"
    "srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,"
    "envId,queue,vmtaPool"
)
T_20190208_215405 = datetime(2019, 2, 8, 21, 54, 5, tzinfo=UTC).timestamp()


def parse(lines: list[str], ip_map: dict[str, str] | None = None) -> tuple[list[Event], PmtaParser]:
    p = PmtaParser(ip_map=ip_map, now=CLOCK)
    return list(p.feed(lines)), p


def test_guide_samples(samples: Path) -> None:
    p = make_parser("pmta", now=CLOCK)
    with (samples / "pmta" / "acct-guide-samples.csv").open(encoding="utf-8") as f:
        events = list(p.feed(f))
    assert events == [
        Event(
            T_20190208_215405,
            Kind.DELIVERED,
            "10.1.2.3",
            "vmta48",
            False,
            "1181.com",
            "2.0.0",
            "smtp;250 DATA ok",
        ),
        Event(
            datetime(2019, 2, 8, 21, 53, 41, tzinfo=UTC).timestamp(),
            Kind.BOUNCED,
            "10.1.2.3",
            "vmta18",
            False,  # 5.7.1 spam-related: a soft (reputation) bounce
            "yahoo.com",
            "5.7.1",
            "smtp;554 5.7.1 Denied - Spam Suspected",
            "spam-related",  # bounceCat, passed through
        ),
    ]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed, s.unattributed) == (3, 2, 1, 0, 0)


def test_reordered_subset_header_maps_by_name() -> None:
    lines = [
        "vmta,rcpt,type,bounceCat,dsnStatus,timeLogged,dlvSourceIp",
        "vmta1,x@Gmail.COM,b,bad-mailbox,5.1.1 (bad destination mailbox address),"
        "2019-02-08 21:54:05+0000,192.0.2.10",
    ]
    # the header's first column is not "type": not a header, so the record is malformed
    events, p = parse(lines)
    assert events == []
    assert p.stats.malformed == 2

    lines[0] = "type,vmta,rcpt,bounceCat,dsnStatus,timeLogged,dlvSourceIp"
    lines[1] = (
        "b,vmta1,x@Gmail.COM,bad-mailbox,5.1.1 (bad destination mailbox address),"
        "2019-02-08 21:54:05+0000,192.0.2.10"
    )
    events, p = parse(lines)
    assert events == [
        Event(
            T_20190208_215405,
            Kind.BOUNCED,
            "192.0.2.10",
            "vmta1",
            True,
            "gmail.com",
            "5.1.1",
            "",
            "bad-mailbox",
        )
    ]


def test_missing_dlv_source_ip_maps_vmta_then_pool() -> None:
    lines = [
        FULL_HEADER,
        # dlvSourceIp empty: vmta18 maps through ip_map
        "b,2019-02-08 21:53:41+0000,2019-02-08 21:53:41+0000,CB-A=yahoo.com@bounce.bar.com,"
        "A@yahoo.com,,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 unknown,"
        'foo.int.bar.com (10.1.2.3),bad-mailbox,api,foo (127.0.0.1),smtp,,10.1.2.3,"A,B",,vmta18,'
        ",,yahoo.rollup/vmta18,",
        # vmta unknown to the map, pool known
        "b,2019-02-08 21:53:41+0000,,o@b.com,B@yahoo.com,,failed,5.2.2 (mailbox full),"
        "smtp;552 5.2.2 full,mx,quota-issues,api,foo,smtp,,,,,vmta99,,,q,pool-a",
        # nothing maps: unattributed
        "b,2019-02-08 21:53:41+0000,,o@b.com,C@yahoo.com,,failed,5.7.1 (denied),"
        "smtp;554 5.7.1 no,mx,spam-related,api,foo,smtp,,,,,vmta77,,,q,pool-z",
    ]
    events, p = parse(lines, {"vmta18": "203.0.113.18", "pool-a": "203.0.113.99"})
    assert [(e.ip, e.subuser, e.hard, e.status) for e in events] == [
        ("203.0.113.18", "vmta18", True, "5.1.1"),
        ("203.0.113.99", "vmta99", False, "5.2.2"),
        (None, "vmta77", False, "5.7.1"),
    ]
    assert p.stats.unattributed == 1
    assert p.stats.events == 3


def test_quoted_commas_in_diag_and_extensions() -> None:
    lines = [
        FULL_HEADER,
        'b,2019-02-08 21:54:05+0000,,o@b.com,u@example.org,,failed,"5.7.1 (denied, policy)",'
        '"smtp;554 5.7.1 Rejected, see https://x.example/?a=1,b=2","mx (1.2.3.4)",policy-related,'
        'api,src,smtp,198.51.100.7,1.2.3.4,"ENHANCEDSTATUSCODES,8BITMIME,SMTPUTF8",100,v1,,,q,',
        # a doubled quote inside a quoted field goes through csv.reader
        "d,2019-02-08 21:54:05+0000,,o@b.com,u@example.org,,relayed,2.0.0 (success),"
        '"smtp;250 ok ""queued""",mx,,api,src,smtp,198.51.100.7,1.2.3.4,,1,v1,,,q,',
    ]
    events, p = parse(lines)
    assert p.stats.malformed == 0
    assert events[0].diag == "smtp;554 5.7.1 Rejected, see https://x.example/?a=1,b=2"
    assert events[0].ip == "198.51.100.7"
    assert events[0].status == "5.7.1"
    assert events[0].kind is Kind.BOUNCED and not events[0].hard
    assert events[1].diag == 'smtp;250 ok "queued"'
    assert events[1].kind is Kind.DELIVERED


def test_header_mid_stream_replaces_mapping() -> None:
    lines = [
        "type,timeLogged,rcpt,dlvSourceIp,vmta",
        "d,2019-02-08 21:54:05+0000,a@one.example,192.0.2.1,v1",
        # a pipe target restarted: new header, new order, extra column
        "type,dlvSourceIp,vmta,timeLogged,rcpt,dsnStatus",
        "d,192.0.2.2,v2,2019-02-08 21:54:06+0000,b@two.example,2.0.0 (success)",
        # a row in the old layout is now the wrong width: malformed
        "d,2019-02-08 21:54:07+0000,c@three.example,192.0.2.3,v3",
    ]
    events, p = parse(lines)
    assert [(e.ip, e.subuser, e.rcpt_domain, e.ts - T_20190208_215405) for e in events] == [
        ("192.0.2.1", "v1", "one.example", 0.0),
        ("192.0.2.2", "v2", "two.example", 1.0),
    ]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed) == (5, 2, 2, 1)


def test_record_types_short_and_long() -> None:
    lines = ["type,timeLogged,rcpt,dlvSourceIp,repSourceIp,dsnStatus,bounceCat,feedbackType"]
    rows = {
        "d": "2.0.0 (success)",
        "delivery": "2.0.0 (success)",
        "b": "5.1.1 (bad mailbox)",
        "bounce": "5.1.2 (bad domain)",
        "rb": "5.2.1 (disabled)",
        "remote-bounce": "5.7.1 (spam)",
        "t": "4.7.0 (deferred)",
        "transient": "4.4.1 (no answer)",
        "tq": "4.4.1 (no answer)",
        "f": "",
        "feedback-loop": "",
        "r": "",
        "rs": "2.0.0",
        "zz": "",
    }
    for rtype, status in rows.items():
        lines.append(f"{rtype},1549662845,u@x.example,192.0.2.1,198.51.100.9,{status},,abuse")
    events, p = parse(lines)
    assert Counter(e.kind for e in events) == {
        Kind.DELIVERED: 2,
        Kind.BOUNCED: 4,
        Kind.DEFERRED: 2,
        Kind.COMPLAINED: 2,
    }
    # complaints take repSourceIp, the rest dlvSourceIp; Unix-seconds timeLogged
    assert {e.ip for e in events if e.kind is Kind.COMPLAINED} == {"198.51.100.9"}
    assert {e.ip for e in events if e.kind is not Kind.COMPLAINED} == {"192.0.2.1"}
    assert {e.ts for e in events} == {T_20190208_215405}
    assert [e.hard for e in events if e.kind is Kind.BOUNCED] == [True, True, True, False]
    s = p.stats
    # header + tq + r + rs + unknown "zz" are ignored
    assert (s.lines, s.events, s.ignored, s.malformed) == (15, 10, 5, 0)


def test_malformed_lines() -> None:
    lines = [
        "d,2019-02-08 21:54:05+0000,a@x.example,192.0.2.1",  # before any header
        "type,timeLogged,rcpt,dlvSourceIp",
        "d,2019-02-08 21:54:05+0000,a@x.example",  # too few fields
        "d,2019-02-08 21:54:05+0000,a@x.example,192.0.2.1,extra",  # too many
        "d,yesterday,a@x.example,192.0.2.1",  # bad time
        "d,2019-02-30 21:54:05+0000,a@x.example,192.0.2.1",  # no such day
        'd,2019-02-08 21:54:05+0000,"a@x.example,192.0.2.1',  # truncated quote
        "",
        "   ",
        "d,2019-02-08T21:54:05Z,a@x.example,192.0.2.1\r\n",  # ISO with T and Z is fine
    ]
    events, p = parse(lines)
    assert [(e.ts, e.ip) for e in events] == [(T_20190208_215405, "192.0.2.1")]
    s = p.stats
    assert (s.lines, s.events, s.ignored, s.malformed) == (10, 1, 3, 6)
    assert s.samples[0].startswith("d,2019-02-08 21:54:05+0000,a@x.example,192.0.2.1")


def test_time_offsets_and_minute_cache() -> None:
    lines = [
        "type,timeLogged,rcpt",
        "d,2019-02-08 22:54:05+0100,a@x.example",
        "d,2019-02-08 21:54:59+0000,a@x.example",
        "d,2019-02-08 21:54:00+0000,a@x.example",
        "d,2019-02-08 21:54:05,a@x.example",  # no offset: UTC
        "d,1549662845.5,a@x.example",
    ]
    events, _ = parse(lines)
    assert [e.ts - T_20190208_215405 for e in events] == [0.0, 54.0, -5.0, 0.0, 0.5]


def test_state_round_trip_continues_in_new_parser() -> None:
    lines = [
        "type,vmta,timeLogged,rcpt,dlvSourceIp",
        "d,v1,2019-02-08 21:54:05+0000,a@x.example,192.0.2.1",
        "b,v2,2019-02-08 21:54:05+0000,b@x.example,",
    ]
    first, p1 = parse(lines[:2])
    state = p1.get_state()
    assert state == {"header": ["type", "vmta", "timeLogged", "rcpt", "dlvSourceIp"]}
    p2 = PmtaParser(ip_map={"v2": "192.0.2.2"}, now=CLOCK)
    p2.set_state(state)
    second = list(p2.feed(lines[2:]))
    assert [(e.kind, e.ip, e.subuser) for e in first + second] == [
        (Kind.DELIVERED, "192.0.2.1", "v1"),
        (Kind.BOUNCED, "192.0.2.2", "v2"),
    ]
    assert p2.stats.malformed == 0
    # without the state the same line has no header: malformed
    p3 = PmtaParser(now=CLOCK)
    assert list(p3.feed(lines[2:])) == []
    assert p3.stats.malformed == 1
    # a garbage state is ignored, never raised on
    p3.set_state({"header": 5})
    assert p3.get_state() == {"header": None}


def test_feed_in_batches_equals_one_run() -> None:
    lines = [
        FULL_HEADER,
        *(
            f"d,2019-02-08 21:54:{i:02d}+0000,,o@b.com,u{i}@d{i % 3}.example,,relayed,"
            f"2.0.0 (success),smtp;250 ok,mx,,api,src,smtp,192.0.2.{i % 4},1.2.3.4,"
            f'"A,B",1,v{i},,,q,'
            for i in range(20)
        ),
    ]
    whole, _ = parse(lines)
    p = PmtaParser(now=CLOCK)
    batched = [e for k in range(0, len(lines), 7) for e in p.feed(lines[k : k + 7])]
    assert batched == whole
    assert len(whole) == 20
    assert Counter(e.ip for e in whole)["192.0.2.0"] == 5
