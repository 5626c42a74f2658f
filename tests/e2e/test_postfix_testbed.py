"""The real-Postfix testbed logs exactly what its sink saw, per sending IP.

Counting is done here with a plain regex on purpose: this proves the testbed's log and truth
agree, independently of the project's own parser (which later e2e tests exercise on the same log).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.postfix_testbed import (
    DASH_SYSLOG_NAMES,
    DEFAULT_SMTP_SYSLOG_NAME,
    SLASH_SYSLOG_NAMES,
    PostfixTestbed,
    SinkCounts,
)

pytestmark = pytest.mark.e2e

# "Nov 22 04:57:58 vm postfix/ip3/smtp[6156]: B477516C0B3: to=<bad1@dest.test>, ...,
#  dsn=5.1.1, status=bounced (...)"
DELIVERY = re.compile(
    r"^\w{3} +\d+ \d\d:\d\d:\d\d \S+ (?P<name>\S+)/smtp\[\d+\]: \w+: to=<[^>]*>,"
    r".* status=(?P<status>sent|bounced|deferred) "
)


def count_statuses(log: Path) -> dict[str, Counter[str]]:
    """{syslog name -> Counter(status)} from the delivery lines of a Postfix log."""
    out: dict[str, Counter[str]] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = DELIVERY.match(line)
        if m:
            out.setdefault(m["name"], Counter())[m["status"]] += 1
    return out


def assert_log_matches_truth(tb: PostfixTestbed) -> dict[str, SinkCounts]:
    seen = count_statuses(tb.log_path)
    truth = tb.truth_by_syslog()
    assert set(seen) <= set(truth), f"unexpected syslog names in log: {set(seen) - set(truth)}"
    for name, t in truth.items():
        got = seen.get(name, Counter())
        assert (got["sent"], got["bounced"], got["deferred"]) == (
            t.accepted,
            t.rejected,
            t.deferred_attempts,
        ), f"{name}: log {dict(got)} != sink {t}"
    return truth


def test_log_matches_sink_truth_per_ip(postfix_testbed: PostfixTestbed) -> None:
    tb = postfix_testbed
    tb.reset_truth()
    plan = {"ip2": (120, 0, 0), "ip3": (120, 10, 2), "ip4": (120, 30, 3)}  # n, bad, full
    pairs = [
        pair
        for transport, (n, bad, full) in plan.items()
        for pair in tb.mix(transport, n, bad=bad, full=full, tag="slash")
    ]
    t0 = time.monotonic()
    tb.send_many(pairs)
    sent_s = time.monotonic() - t0
    tb.wait_quiet(timeout=60)
    print(f"submitted {len(pairs)} in {sent_s:.1f}s, quiet after {time.monotonic() - t0:.1f}s")

    truth = assert_log_matches_truth(tb)
    for transport, (n, bad, full) in plan.items():
        t = truth[SLASH_SYSLOG_NAMES[transport]]
        # defer-once: full recipients are deferred once, then accepted on the retry.
        assert t == SinkCounts(
            accepted=n - bad, rejected=bad, deferred=full, deferred_attempts=full
        )
    # Every bounce produced one non-delivery notice through the unbound default transport.
    total_bad = sum(bad for _, bad, _ in plan.values())
    assert truth[DEFAULT_SMTP_SYSLOG_NAME] == SinkCounts(accepted=total_bad)
    assert tb.syslog_map == {
        "postfix/ip2": "127.0.0.2",
        "postfix/ip3": "127.0.0.3",
        "postfix/ip4": "127.0.0.4",
    }


def test_dash_style_syslog_names(postfix_testbed: PostfixTestbed) -> None:
    tb = postfix_testbed
    try:
        tb.restart_with(DASH_SYSLOG_NAMES)
        assert tb.syslog_map == {
            "postfix-out2": "127.0.0.2",
            "postfix-out3": "127.0.0.3",
            "postfix-out4": "127.0.0.4",
        }
        plan = {"ip2": (30, 0, 0), "ip3": (30, 3, 0), "ip4": (30, 8, 1)}
        pairs = [
            pair
            for transport, (n, bad, full) in plan.items()
            for pair in tb.mix(transport, n, bad=bad, full=full, tag="dash")
        ]
        tb.send_many(pairs)
        tb.wait_quiet(timeout=60)
        truth = assert_log_matches_truth(tb)
        for transport, (n, bad, full) in plan.items():
            t = truth[DASH_SYSLOG_NAMES[transport]]
            assert (t.accepted, t.rejected, t.deferred) == (n - bad, bad, full)
        text = tb.log_path.read_text()
        assert "postfix-out4/smtp[" in text
        assert "postfix/ip4/smtp[" not in text
    finally:
        tb.restart_with(SLASH_SYSLOG_NAMES)
