"""Postfix: exact counts against a hand-labelled log of every delivery agent, an amavis
content-filter chain, an LMTP delivery to a local dovecot, a test sink, ``expired``, and a
delivery line without ``to=``; and the same totals for any batch split with a restart
(``get_state``/``set_state`` through JSON) between batches.

Each line below carries the outcome we derived by hand from Postfix's documentation
(``postfix/smtp``, ``lmtp``, ``local``, ``virtual``, ``pipe``, ``error``, ``discard`` write
``status=`` per recipient; qmgr writes ``status=expired, returned to sender`` per message;
amavis re-injects through ``smtpd`` on 127.0.0.1:10025 and answers ``queued as NEWID``):
``.1``/``.2`` = event for 203.0.113.1/.2 (``D`` delivered, ``B`` bounced hard, ``F``
deferred), ``U`` = delivered, unattributed; ``I`` internal hop; ``E`` expired; ``-`` ignored.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsconsole.core.events import Event, Kind
from opsconsole.core.sources import postfix as postfix_mod
from opsconsole.core.sources.postfix import PostfixParser
from tests.helpers.clock import FakeClock

NOW = datetime(2026, 11, 22, 5, 10, tzinfo=UTC).timestamp()
IP_MAP = {"postfix": "203.0.113.1", "postfix-out2": "203.0.113.2"}
INTERNAL = ["filter.internal:10024"]
D = "delay=0.6, delays=0.05/0.01/0.01/0.53"
AMAVIS_OK = "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 6F7E8D9C0B"

LOG: list[tuple[str, str]] = [
    # 1. amavis chain: the re-injection (smtpd from localhost) is logged before the hop
    ("-", "Nov 22 04:50:00 mx postfix/smtpd[100]: connect from client.example[198.51.100.7]"),
    ("-", "Nov 22 04:50:00 mx postfix/smtpd[100]: 1A2B3C4D5E: client=client.example"
     "[198.51.100.7], sasl_method=PLAIN, sasl_username=alice"),
    ("-", "Nov 22 04:50:00 mx postfix/cleanup[101]: 1A2B3C4D5E: message-id=<m1@example.org>"),
    ("-", "Nov 22 04:50:00 mx postfix/qmgr[102]: 1A2B3C4D5E: from=<alice@example.org>, "
     "size=1234, nrcpt=2 (queue active)"),
    ("-", "Nov 22 04:50:01 mx postfix/smtpd[110]: connect from localhost[127.0.0.1]"),
    ("-", "Nov 22 04:50:01 mx postfix/smtpd[110]: 6F7E8D9C0B: client=localhost[127.0.0.1]"),
    ("-", "Nov 22 04:50:01 mx postfix/cleanup[101]: 6F7E8D9C0B: message-id=<m1@example.org>"),
    ("-", "Nov 22 04:50:01 mx postfix/qmgr[102]: 6F7E8D9C0B: from=<alice@example.org>, "
     "size=1800, nrcpt=2 (queue active)"),
    ("-", "Nov 22 04:50:01 mx amavis[200]: (00200-01) Passed CLEAN {RelayedOutbound}, "
     "<alice@example.org> -> <bob@dest.example>,<carol@dest.example>, "
     "queued_as: 6F7E8D9C0B, Hits: -, size: 1234, 512 ms"),
    ("I", f"Nov 22 04:50:01 mx postfix/smtp[103]: 1A2B3C4D5E: to=<bob@dest.example>, "
     f"relay=127.0.0.1[127.0.0.1]:10024, {D}, dsn=2.0.0, status=sent ({AMAVIS_OK})"),
    ("I", f"Nov 22 04:50:01 mx postfix/smtp[103]: 1A2B3C4D5E: to=<carol@dest.example>, "
     f"relay=127.0.0.1[127.0.0.1]:10024, conn_use=2, {D}, dsn=2.0.0, status=sent ({AMAVIS_OK})"),
    ("-", "Nov 22 04:50:01 mx postfix/qmgr[102]: 1A2B3C4D5E: removed"),
    (".2D", f"Nov 22 04:50:02 mx postfix-out2/smtp[300]: 6F7E8D9C0B: to=<bob@dest.example>, "
     f"relay=mx.dest.example[192.0.2.25]:25, {D}, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
     "queued as 4XyZ)"),
    (".2B", f"Nov 22 04:50:02 mx postfix-out2/smtp[300]: 6F7E8D9C0B: to=<carol@dest.example>, "
     f"relay=mx.dest.example[192.0.2.25]:25, {D}, dsn=5.1.1, status=bounced (host "
     "mx.dest.example[192.0.2.25] said: 550 5.1.1 <carol@dest.example>: Recipient address "
     "rejected: User unknown (in reply to RCPT TO command))"),
    ("-", "Nov 22 04:50:02 mx postfix/qmgr[102]: 6F7E8D9C0B: removed"),
    # 2. the hop first, NEWID only afterwards (plain amavis reply): resolved by lookahead
    ("I", f"Nov 22 04:51:00 mx postfix/smtp[103]: 2B3C4D5E6F: to=<dave@far.example>, "
     f"relay=localhost[::1]:10024, {D}, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "
     "7A8B9C0D1E)"),
    ("-", "Nov 22 04:51:00 mx postfix/qmgr[102]: 2B3C4D5E6F: removed"),
    ("-", "Nov 22 04:51:01 mx postfix/qmgr[102]: 7A8B9C0D1E: from=<alice@example.org>, "
     "size=1800, nrcpt=1 (queue active)"),
    (".2F", f"Nov 22 04:51:02 mx postfix-out2/smtp[300]: 7A8B9C0D1E: to=<dave@far.example>, "
     f"relay=mx.far.example[192.0.2.26]:25, {D}, dsn=4.7.0, status=deferred (host "
     "mx.far.example[192.0.2.26] said: 421 4.7.0 Try again later (in reply to MAIL FROM "
     "command))"),
    # 3. LMTP to a local dovecot: loopback, but no local queue id in the reply -> real
    (".1D", "Nov 22 04:52:00 mx postfix/lmtp[400]: 3C4D5E6F7A: to=<erin@example.org>, "
     "relay=127.0.0.1[127.0.0.1]:24, delay=0.05, delays=0.01/0/0.01/0.03, dsn=2.0.0, "
     "status=sent (250 2.0.0 <erin@example.org> 8Jk2Mq3nYWUEAAAAfQ Saved)"),
    # 4. a loopback test sink whose "queued as" id never appears: held, real after 600 s
    (".1D", "Nov 22 04:53:00 mx postfix/smtp[104]: 4D5E6F7A8C: to=<sink@test.example>, "
     f"relay=127.0.0.1[127.0.0.1]:2525, {D}, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
     "queued as 9F8E7D6C5B)"),
    # 5. pipe (multi-instance name, unmapped; and the default instance), discard, error
    ("U", "Nov 22 04:54:00 mx mail_in/pipe[500]: 4D5E6F7A8B: to=<list@example.org>, "
     "relay=mailman, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (delivered via "
     "mailman service)"),
    (".1D", "Nov 22 04:54:01 mx postfix/pipe[501]: 5E6F7A8B9C: to=<frank@example.org>, "
     "orig_to=<f@example.org>, relay=dovecot, delay=0.1, delays=0.05/0/0/0.05, dsn=2.0.0, "
     "status=sent (delivered via dovecot service)"),
    (".1D", "Nov 22 04:55:00 mx postfix/discard[600]: 6F7A8B9C0D: to=<null@example.org>, "
     "relay=none, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, status=sent (discarded)"),
    (".1B", "Nov 22 04:56:00 mx postfix/error[700]: 7A8B9C0D1F: to=<x@gone.example>, "
     "relay=none, delay=0.02, delays=0.01/0/0/0.01, dsn=5.1.1, status=bounced (User unknown "
     "in virtual alias table)"),
    (".1F", "Nov 22 04:57:00 mx postfix/error[701]: 8B9C0D1E2F: to=<y@slow.example>, "
     "relay=none, delay=3600, delays=3600/0/0/0, dsn=4.4.1, status=deferred (delivery "
     "temporarily suspended: connect to mx.slow.example[192.0.2.30]:25: Connection timed out)"),
    # 6. message-level expiry: not a recipient outcome, never a bounce
    ("E", "Nov 22 04:57:01 mx postfix/qmgr[102]: 8B9C0D1E2F: from=<alice@example.org>, "
     "status=expired, returned to sender"),
    ("-", "Nov 22 04:57:01 mx postfix/bounce[702]: 8B9C0D1E2F: sender non-delivery "
     "notification: 9A8B7C6D5E"),
    # 7. a delivery line without to= still counts its status
    (".2F", "Nov 22 04:58:00 mx postfix-out2/smtp[301]: 9C0D1E2F3A: "
     "relay=mx.x.example[192.0.2.40]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=4.2.2, "
     "status=deferred (host mx.x.example[192.0.2.40] said: 452 4.2.2 Mailbox full (in reply "
     "to RCPT TO command))"),
    # 8. recipients without angle brackets; local and virtual
    (".1D", "Nov 22 04:59:00 mx postfix/local[800]: A1B2C3D4E5: to=root@mx.example.org, "
     "relay=local, delay=0.01, delays=0/0/0/0.01, dsn=2.0.0, status=sent (delivered to "
     "mailbox)"),
    (".1D", "Nov 22 05:00:00 mx postfix/virtual[900]: B2C3D4E5F6: to=<gina@example.org>, "
     "relay=virtual, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to "
     "maildir)"),
    # 9. a configured internal relay (a filter on another host): a hop whatever its reply
    ("I", "Nov 22 05:01:00 mx postfix/smtp[105]: C3D4E5F6A7: to=<hank@dest.example>, "
     f"relay=filter.internal[10.0.0.5]:10024, {D}, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
     "queued as QQQ)"),
    ("-", "Nov 22 05:01:00 mx postfix/scache[106]: statistics: start interval Nov 22 04:50:00"),
    # 10. more than 600 s after the sink line: it is released as a real delivery here
    (".2D", "Nov 22 05:05:00 mx postfix-out2/smtp[300]: D4E5F6A7B8: to=<ivan@dest.example>, "
     f"relay=mx.dest.example[192.0.2.25]:25, {D}, dsn=2.0.0, status=sent (250 ok)"),
]  # fmt: skip
LINES = [line for _, line in LOG]
LABELS = Counter(label for label, _ in LOG)

KINDS = {"D": Kind.DELIVERED, "B": Kind.BOUNCED, "F": Kind.DEFERRED}


def truth() -> Counter[tuple[str | None, Kind]]:
    out: Counter[tuple[str | None, Kind]] = Counter()
    for label, _ in LOG:
        if label.startswith("."):
            out[(f"203.0.113{label[:2]}", KINDS[label[2]])] += 1
        elif label == "U":
            out[(None, Kind.DELIVERED)] += 1
    return out


def new_parser() -> PostfixParser:
    return PostfixParser(IP_MAP, now=FakeClock(NOW), internal_relays=INTERNAL)


def counts(events: list[Event]) -> Counter[tuple[str | None, Kind]]:
    return Counter((e.ip, e.kind) for e in events)


def test_hand_counted_totals() -> None:
    p = new_parser()
    events = list(p.feed(LINES))
    s = p.stats
    n_events = sum(v for k, v in LABELS.items() if k.startswith(".") or k == "U")
    assert n_events == 14
    assert counts(events) == truth()
    assert (s.lines, s.events, s.ignored, s.malformed) == (len(LOG), 14, LABELS["-"], 0)
    assert (s.internal, s.expired, s.unattributed) == (4, 1, 1) == (LABELS["I"], LABELS["E"], 1)
    assert p.pending == 0
    # the bounces: hard by dsn 5.1.1; no bounce from the expiry
    assert sorted((e.ip, e.hard, e.status) for e in events if e.kind is Kind.BOUNCED) == [
        ("203.0.113.1", True, "5.1.1"),
        ("203.0.113.2", True, "5.1.1"),
    ]
    by_domain = {e.rcpt_domain for e in events}
    assert {"mx.example.org", "example.org", "dest.example", "test.example", ""} <= by_domain
    sink = [e for e in events if e.rcpt_domain == "test.example"]
    assert [e.ts for e in sink] == [datetime(2026, 11, 22, 4, 53, tzinfo=UTC).timestamp()]


def test_held_hop_is_released_by_flush_at_end_of_log() -> None:
    p = new_parser()
    events = list(p.feed(LINES[:-1]))  # without the line 600 s later
    assert p.pending == 1
    assert len(events) == 12
    (late,) = p.flush()
    assert (late.ip, late.kind, late.rcpt_domain) == ("203.0.113.1", Kind.DELIVERED, "test.example")
    assert (p.pending, p.stats.events) == (0, 13)
    assert p.get_state()["pending"] == []


def test_hold_bounds_lines_and_count(monkeypatch: pytest.MonkeyPatch) -> None:
    hop = LOG[20][1]  # the sink line: held
    other = LOG[0][1]
    monkeypatch.setattr(postfix_mod, "HOLD_LINES", 5)
    p = new_parser()
    assert list(p.feed([hop] + [other] * 4)) == []
    assert p.pending == 1
    (ev,) = p.feed([other])  # the 5th line after it, not its NEWID: the bound passed
    assert ev.rcpt_domain == "test.example" and p.pending == 0
    monkeypatch.setattr(postfix_mod, "PENDING_MAX", 2)
    p = new_parser()
    hops = [hop.replace("9F8E7D6C5B", f"9F8E7D6C5{i}") for i in range(3)]
    assert len(list(p.feed(hops))) == 1  # the oldest goes once more than 2 are held
    assert p.pending == 2


def test_state_is_bounded_and_garbage_tolerated() -> None:
    p = new_parser()
    for bad in ({"pending": "x"}, {"pending": [["A", [[1, 2]]]], "recent": [5, "../x"]}, None):
        p.set_state(bad)  # type: ignore[arg-type]
        assert p.pending == 0 and p.get_state() == {}
    injections = [
        f"Nov 22 04:50:01 mx postfix/smtpd[110]: {i:010X}: client=localhost[127.0.0.1]"
        for i in range(postfix_mod.RECENT_MAX + 10)
    ]
    list(p.feed(injections))
    assert len(p.get_state()["recent"]) == postfix_mod.RECENT_MAX


def run_split(cuts: list[int], restart: list[bool]) -> tuple[Counter[Event], tuple[int, ...]]:
    p = new_parser()
    events: list[Event] = []
    bounds = [0, *sorted(set(cuts)), len(LINES)]
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        events += p.feed(LINES[a:b])
        if restart[i % len(restart)]:
            state = json.loads(json.dumps(p.get_state()))
            p2 = new_parser()
            p2.set_state(state)
            p2.stats = p.stats
            p = p2
    s = p.stats
    return Counter(events), (s.lines, s.events, s.ignored, s.malformed, s.internal, s.expired)


@settings(max_examples=150, deadline=None)
@given(
    cuts=st.lists(st.integers(0, len(LINES)), max_size=12),
    restart=st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_any_batch_split_with_restarts_gives_one_runs_result(
    cuts: list[int], restart: list[bool]
) -> None:
    one = new_parser()
    whole = Counter(one.feed(LINES))
    s = one.stats
    assert run_split(cuts, restart) == (
        whole,
        (s.lines, s.events, s.ignored, s.malformed, s.internal, s.expired),
    )


def test_line_by_line_with_restarts() -> None:
    assert run_split(list(range(len(LINES))), [True])[1] == (len(LOG), 14, LABELS["-"], 0, 4, 1)
