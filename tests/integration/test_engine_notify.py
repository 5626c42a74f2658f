"""Issue 3 acceptance: alerts reach a real webhook endpoint on 127.0.0.1 through the outbox.

The endpoint refuses the first 3 posts with 500; the engine is even restarted (SIGTERM)
while the first alert is backing off. Still every alert arrives, each alert id is accepted
exactly once while its numbers do not change (many checks run meanwhile, and the checks
are never held up by the failing endpoint), and every body has the fields of spec
section 4 with the alert's real numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import http_receiver as receivers

if TYPE_CHECKING:
    from tests.helpers.http_receiver import HttpReceiver
    from tests.integration.conftest import Harness

http_receiver = receivers.http_receiver

SENT = 300
IPS = {"10.4.0.7": 21, "10.4.0.12": 36, "10.4.0.20": 60}  # info, warning, critical
SECTION_4_FIELDS = {
    "severity", "title", "message", "timestamp", "service", "alert_id", "state", "ip",
    "subuser", "bounce_rate", "sent", "window_seconds",
}  # fmt: skip
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def config(url: str) -> str:
    members = ", ".join(f'{{ ip = "{ip}", weight = 100 }}' for ip in IPS)
    return (
        f'[[pools]]\nname = "prod"\nmembers = [ {members} ]\n\n'
        f'[[notify]]\nkind = "webhook"\nname = "ops"\nurl = "{url}"\nmin_severity = "info"\n'
    )


@pytest.mark.slow
def test_refused_posts_are_retried_and_every_alert_arrives_once(
    harness: Harness, http_receiver: HttpReceiver
) -> None:
    h, rx = harness, http_receiver
    rx.fail_first(3)
    h.write_config(config(rx.url("/alerts")))
    rows: list[dict[str, Any]] = []
    for ip, bounced in IPS.items():
        rows += h.traffic(ip, SENT, bounced)
    h.write_traffic(rows)

    first = h.start_engine(name="first")
    assert rx.wait_for(1, timeout=15), first.describe()
    # Once the refusal is on record (the row backs off), stop this engine: the restart
    # must neither lose the pending notifications nor enqueue them again.
    h.wait_until(
        lambda: h.sql("SELECT 1 FROM outbox WHERE attempts >= 1"), 10, "the failed attempt"
    )
    assert first.stop() == 0
    second = h.start_engine(name="second")

    report: dict[str, Any] = {}

    def all_accepted() -> bool:
        nonlocal report
        assert second.alive(), second.describe()
        accepted = {r.json["alert_id"] for r in rx.accepted}
        if len(accepted) < len(IPS):
            return False
        report = h.report()
        return accepted == {a["id"] for a in report["alerts"]}

    # Backoff 2 s, 4 s, 8 s after the three refusals: ~14 s, plus generous slack.
    h.wait_until(all_accepted, 40, "every alert to be accepted", poll=0.25)
    # The refusals never held the checks up: the second engine kept checking every second.
    assert second.checks() >= 5
    # More checks with the same numbers: nothing is posted again.
    posts_before = len(rx.posts)
    h.wait_checks(second, 3)
    h.wait_until(lambda: h.status()["notifiers"], 10, "status to list the notifier")
    assert len(rx.posts) == posts_before

    posts = rx.posts
    assert [p.status for p in posts[:3]] == [500, 500, 500]
    assert len(posts) == 3 + len(IPS)  # three refusals, then one accepted post per alert
    accepted = Counter(p.json["alert_id"] for p in rx.accepted)
    assert set(accepted.values()) == {1}
    # Each refused body went out again, unchanged, and was accepted (a retry of the same
    # outbox row, not a new notification).
    for refused in posts[:3]:
        retry = [p for p in rx.accepted if p.json["alert_id"] == refused.json["alert_id"]]
        assert [p.json for p in retry] == [refused.json]

    by_ip = {a["ip"]: a for a in report["alerts"]}
    expected = {"10.4.0.7": "info", "10.4.0.12": "warning", "10.4.0.20": "critical"}
    for p in rx.accepted:
        body = p.json
        assert p.path == "/alerts"
        assert p.headers["content-type"].startswith("application/json")
        assert set(body) >= SECTION_4_FIELDS, SECTION_4_FIELDS - set(body)
        alert = by_ip[body["ip"]]
        assert body["alert_id"] == alert["id"]
        assert body["severity"] == expected[body["ip"]] == alert["severity"]
        assert body["state"] == "firing"
        assert body["title"] == alert["title"] and body["message"] == alert["message"]
        assert body["service"] == "bounce_rate_monitor"
        assert ISO_MILLIS.match(body["timestamp"]), body["timestamp"]
        assert body["subuser"] is None
        assert body["bounce_rate"] == IPS[body["ip"]] / SENT
        assert body["sent"] == SENT
        assert body["window_seconds"] == 3600
    assert "removed from rotation" in by_ip["10.4.0.20"]["message"]

    notifier = h.status()["notifiers"][0]
    assert notifier["name"] == "ops"
    assert (notifier["pending"], notifier["retrying"], notifier["failed"]) == (0, 0, 0)
    assert second.stop() == 0
