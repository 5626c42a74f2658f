"""Property tests: no parser ever raises, and every line is counted exactly once.

Each line fed on its own must end up as exactly one of: ignored, malformed, or (at least)
one event. Inputs: arbitrary text, random bytes decoded with ``errors="replace"``, NUL bytes,
very long lines, valid lines cut short or mutated, JSON of every shape.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsconsole.core.sources import FORMATS, Parser, make_parser
from opsconsole.core.sources.base import MAX_TEXT
from opsconsole.core.sources.pmta import _split_quoted
from opsconsole.core.sources.postfix import PostfixParser
from tests.helpers.clock import FakeClock

PROPS = settings(max_examples=200, deadline=None)
NOW = 1_795_324_200.0  # 2026-11-22T05:10:00Z

PMTA_HEADER = "type,timeLogged,rcpt,dsnStatus,dsnDiag,bounceCat,dlvSourceIp,vmta,vmtaPool"
VALID: dict[str, list[str]] = {
    "pmta": [
        PMTA_HEADER,
        'b,2026-11-22 04:57:58+0000,u@x.example,5.1.1 (bad),"smtp;550 5.1.1 no, such user",'
        "bad-mailbox,192.0.2.1,v1,p1",
        "d,2026-11-22 04:57:58+0000,u@x.example,2.0.0 (success),smtp;250 ok,,192.0.2.1,v1,p1",
    ],
    "postfix": [
        "Nov 22 04:57:58 vm postfix/ip3/smtp[6156]: B477516C0B3: to=<bad1@dest.test>, "
        "relay=127.0.0.1[127.0.0.1]:2525, delay=0.01, delays=0/0.01/0/0.01, dsn=5.1.1, "
        "status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bad1@dest.test>: "
        "Recipient address rejected: User unknown (in reply to RCPT TO command))",
        "2026-11-22T04:57:58.123456+00:00 vm postfix-ip2/smtp[6141]: AA5A816C0B2: "
        "to=<good1@dest.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.02, "
        "delays=0.01/0.01/0.01/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as X)",
        "Nov 22 04:57:58 vm postfix/qmgr[6129]: AA5A816C0B2: removed",
    ],
    "kumo": [
        '{"type":"Bounce","recipient":["a@x.example","b@y.example"],"timestamp":1678069692,'
        '"response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},'
        '"content":"5.1.1 no such user"},"bounce_classification":"InvalidRecipient",'
        '"egress_source":"source3","source_address":{"address":"[2001:db8::1]:25"},'
        '"meta":{"tenant":"acme"}}',
    ],
    "jsonl": [
        '{"ts":1767225600.0,"kind":"bounced","ip":null,"subuser":null,"hard":true,'
        '"rcpt_domain":"x.example","status":"5.1.1","diag":"550 5.1.1, \\"quoted\\"",'
        '"source":"esp-a"}',
    ],
}
IP_MAP = {"v1": "192.0.2.1", "postfix/ip3": "127.0.0.3", "source3": "10.0.0.3", "esp-a": "1.2.3.4"}


def new_parser(fmt: str) -> Parser:
    parser = make_parser(fmt, IP_MAP, now=FakeClock(NOW))
    if fmt == "pmta":  # most properties feed records, so start with a header in place
        list(parser.feed([PMTA_HEADER]))
        parser.stats.take()
    return parser


def feed_each(parser: Parser, lines: list[str]) -> list[str]:
    """Feed line by line; return what each line became. Fails if a line is not counted once."""
    outcomes = []
    s = parser.stats
    for line in lines:
        before = (s.lines, s.events, s.ignored, s.malformed, s.unattributed)
        events = list(parser.feed([line]))
        after = (s.lines, s.events, s.ignored, s.malformed, s.unattributed)
        d_lines, d_events, d_ignored, d_malformed, d_unattr = (
            a - b for a, b in zip(after, before, strict=True)
        )
        assert d_lines == 1
        assert d_events == len(events)
        assert d_unattr == sum(1 for e in events if e.ip is None)
        assert d_ignored in (0, 1) and d_malformed in (0, 1)
        assert (d_events > 0) + d_ignored + d_malformed == 1, (line[:200], before, after)
        outcomes.append("event" if d_events else "ignored" if d_ignored else "malformed")
    return outcomes


lines_of_text = st.lists(st.text(max_size=300), max_size=8)
lines_of_bytes = st.lists(
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace")), max_size=8
)
nul_lines = st.lists(
    st.text(alphabet=st.sampled_from(["\x00", ",", '"', "{", "}", "a", " ", "\n", "\r"])),
    max_size=8,
)


@pytest.mark.parametrize("fmt", FORMATS)
@PROPS
@given(lines=lines_of_text)
def test_arbitrary_text_never_raises(fmt: str, lines: list[str]) -> None:
    feed_each(new_parser(fmt), lines)


@pytest.mark.parametrize("fmt", FORMATS)
@PROPS
@given(lines=lines_of_bytes)
def test_binary_decoded_with_replace_never_raises(fmt: str, lines: list[str]) -> None:
    parser = new_parser(fmt)
    feed_each(parser, lines)
    # and as one batch, the way a tailer feeds a chunk
    batch = new_parser(fmt)
    list(batch.feed(lines))
    assert batch.stats.lines == len(lines)


@pytest.mark.parametrize("fmt", FORMATS)
@PROPS
@given(lines=nul_lines)
def test_nul_and_separators_never_raise(fmt: str, lines: list[str]) -> None:
    feed_each(new_parser(fmt), lines)


@pytest.mark.parametrize("fmt", FORMATS)
@PROPS
@given(data=st.data())
def test_valid_lines_cut_short_or_mutated(fmt: str, data: st.DataObject) -> None:
    """A truncated or mutated line never raises and never swallows the next valid line."""
    # records only: a damaged header that still names known columns is a new header
    valid = data.draw(st.sampled_from([v for v in VALID[fmt] if not v.startswith("type,")]))
    cut = data.draw(st.integers(0, len(valid)))
    insert = data.draw(st.text(max_size=5))
    at = data.draw(st.integers(0, len(valid)))
    damaged = [valid[:cut], valid[:at] + insert + valid[at:]]
    parser = new_parser(fmt)
    feed_each(parser, damaged)
    reference = new_parser(fmt)
    last = VALID[fmt][-1]
    assert list(parser.feed([last])) == list(reference.feed([last]))


@pytest.mark.parametrize("fmt", ["kumo", "jsonl"])
@PROPS
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "type",
                        "kind",
                        "ts",
                        "timestamp",
                        "recipient",
                        "response",
                        "ip",
                        "hard",
                        "source_address",
                        "meta",
                        "enhanced_code",
                        "address",
                        "x",
                    ]
                ),
                inner,
                max_size=6,
            )
        ),
        max_leaves=20,
    )
)
def test_json_of_any_shape(fmt: str, value: Any) -> None:
    line = json.dumps(value)
    (outcome,) = feed_each(new_parser(fmt), [line])
    if not isinstance(value, dict):
        assert outcome == "malformed"


@pytest.mark.parametrize("fmt", FORMATS)
def test_megabyte_lines(fmt: str) -> None:
    big = "x" * 1_000_000
    lines = [
        big,
        '"' + big,  # a CSV quote that never closes
        '{"type": "Delivery", "timestamp": 1, "kind": "delivered", "ts": 1, "diag": "' + big,
        "[" * 100_000 + "]" * 100_000,  # deep nesting: RecursionError in json
        "\x00" * 1_000_000,
    ]
    outcomes = feed_each(new_parser(fmt), lines)
    assert outcomes == ["malformed"] * 5
    # and the parser still works afterwards
    parser = new_parser(fmt)
    list(parser.feed(lines))
    assert list(parser.feed(VALID[fmt][-1:])) == list(new_parser(fmt).feed(VALID[fmt][-1:]))


def test_megabyte_quoted_pmta_field_is_parsed() -> None:
    big = "x, " * 400_000
    line = f'b,2026-11-22 04:57:58+0000,u@x.example,5.7.1,"{big}",,192.0.2.1,v1,p1'
    (ev,) = new_parser("pmta").feed([line])
    assert ev.diag == big[:MAX_TEXT]  # parsed whole, stored bounded


@PROPS
@given(
    row=st.lists(
        st.text(alphabet=st.sampled_from(['"', ",", "a", " ", "\x00", "é"]), max_size=8),
        max_size=6,
    )
)
def test_quoted_fast_path_agrees_with_csv_reader(row: list[str]) -> None:
    text = ",".join(
        '"' + f + '"' if i % 2 else f.replace('"', "").replace(",", "") for i, f in enumerate(row)
    )
    fast = _split_quoted(text) if '"' in text else None  # the parser only asks then
    if fast is not None:
        assert fast == next(csv.reader([text]))


@PROPS
@given(
    when=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
    now_offset=st.floats(-400 * 86400, 400 * 86400),
)
def test_classic_year_never_more_than_a_day_ahead(when: datetime, now_offset: float) -> None:
    now = when.timestamp() + now_offset
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[
        when.month - 1
    ]
    stamp = f"{month} {when.day:2d} {when:%H:%M:%S}"
    line = (
        f"{stamp} vm postfix/ip3/smtp[1]: Q1: to=<a@b.example>, relay=none, delay=1, "
        "delays=1/0/0/0, dsn=4.4.1, status=deferred (connect refused)"
    )
    parser = PostfixParser(IP_MAP, now=lambda: now)
    events = list(parser.feed([line]))
    if not events:  # Feb 29 with no leap year in range: malformed, counted
        assert parser.stats.malformed == 1
        return
    (ev,) = events
    assert ev.ts <= now + 86400
    assert ev.ts > now - 5 * 366 * 86400
    got = datetime.fromtimestamp(ev.ts, UTC)
    assert (got.month, got.day, got.hour, got.minute, got.second) == (
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
    )
    if abs(now_offset) < 300 * 86400 and now_offset > -86400:
        assert got.year == when.year  # within the window, the inference is exact
