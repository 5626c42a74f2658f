"""Notification bodies, severity filtering and backoff: pure functions, no I/O."""

from __future__ import annotations

import pytest

from opsconsole.core.notify.payload import (
    SERVICE,
    AlertNotice,
    iso_millis,
    passes,
    severity_rank,
    slack_body,
    webhook_body,
)
from opsconsole.core.notify.sender import backoff, is_retryable_status, recipients, scrub

NOW = 1_705_314_645.123  # 2024-01-15T10:30:45.123Z

SPEC_KEYS = {
    "severity",
    "title",
    "message",
    "timestamp",
    "service",
    "alert_id",
    "state",
    "ip",
    "subuser",
    "bounce_rate",
    "sent",
    "window_seconds",
}


def notice(**kw: object) -> AlertNotice:
    base: dict[str, object] = {
        "alert_id": "a-1",
        "rule": "bounce_rate",
        "severity": "critical",
        "title": "IP Blocked - High Bounce Rate",
        "message": "IP 192.168.1.1 (subuser: primary) removed from rotation due to 18.00% "
        "bounce rate",
        "ip": "192.168.1.1",
        "subuser": "primary",
        "value": 0.18,
        "sent": 500,
        "window_seconds": 3600.0,
        "host": "mx1",
    }
    base.update(kw)
    return AlertNotice(**base)  # type: ignore[arg-type]


def test_webhook_body_has_the_spec_fields() -> None:
    body = webhook_body(notice(), NOW)
    assert body.keys() >= SPEC_KEYS
    assert body["severity"] == "critical"
    assert body["title"] == "IP Blocked - High Bounce Rate"
    assert body["timestamp"] == "2024-01-15T10:30:45.123Z"
    assert body["service"] == SERVICE == "bounce_rate_monitor"
    assert body["alert_id"] == "a-1"
    assert body["state"] == "firing"
    assert body["ip"] == "192.168.1.1"
    assert body["subuser"] == "primary"
    assert body["bounce_rate"] == 0.18
    assert body["sent"] == 500
    assert body["window_seconds"] == 3600 and isinstance(body["window_seconds"], int)
    assert body["rule"] == "bounce_rate" and body["value"] == 0.18 and body["host"] == "mx1"


def test_webhook_body_from_a_mapping_and_null_subuser() -> None:
    m = {
        "alert_id": "a-2",
        "rule": "bounce_rate",
        "severity": "info",
        "title": "t",
        "message": "m",
        "ip": "203.0.113.1",
        "value": 0.06,
        "sent": 40,
        "unrelated": "ignored",
    }
    body = webhook_body(m, 0.0)
    assert body["subuser"] is None
    assert body["timestamp"] == "1970-01-01T00:00:00.000Z"
    assert "unrelated" not in body
    assert "host" not in body


def test_complaint_rule_does_not_pose_as_bounce_rate() -> None:
    body = webhook_body(notice(rule="complaint_rate", value=0.004), NOW)
    assert body["bounce_rate"] is None
    assert body["complaint_rate"] == 0.004 and body["value"] == 0.004
    explicit = webhook_body(notice(rule="complaint_rate", value=0.004, bounce_rate=0.01), NOW)
    assert explicit["bounce_rate"] == 0.01


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError):
        webhook_body(notice(severity="block"), NOW)


def test_iso_millis_rounds_down_to_the_millisecond() -> None:
    assert iso_millis(1_767_225_600.9999) == "2026-01-01T00:00:00.999Z"


@pytest.mark.parametrize(
    ("severity", "color"),
    [("info", "#439FE0"), ("warning", "#f2c744"), ("critical", "#d00000")],
)
def test_slack_colour_by_severity(severity: str, color: str) -> None:
    s = slack_body(webhook_body(notice(severity=severity), NOW))
    assert s["text"].startswith(f"[{severity.upper()}]")
    (att,) = s["attachments"]
    assert att["color"] == color
    fields = {f["title"]: f["value"] for f in att["fields"]}
    assert fields == {"IP": "192.168.1.1", "Subuser": "primary", "Rate": "18.00%", "Sent": "500"}
    assert att["ts"] == int(NOW)


def test_slack_resolved_is_green() -> None:
    s = slack_body(webhook_body(notice(state="resolved"), NOW))
    assert s["attachments"][0]["color"] == "good"
    assert s["text"].startswith("[RESOLVED]")


def test_slack_body_without_rate_or_subuser() -> None:
    s = slack_body(webhook_body(notice(subuser="", value=None), NOW))
    fields = {f["title"]: f["value"] for f in s["attachments"][0]["fields"]}
    assert fields["Subuser"] == "-" and fields["Rate"] == "n/a"


def test_severity_rank_and_filter() -> None:
    assert severity_rank("info") < severity_rank("warning") < severity_rank("critical")
    assert passes("critical", "warning")
    assert passes("warning", "warning")
    assert not passes("info", "warning")
    with pytest.raises(ValueError):
        severity_rank("ok")


def test_recipients_by_min_severity() -> None:
    routes = {"ops-webhook": "info", "slack": "warning", "pager": "critical"}
    assert recipients(routes, "info") == ["ops-webhook"]
    assert recipients(routes, "warning") == ["ops-webhook", "slack"]
    assert recipients(routes, "critical") == ["ops-webhook", "slack", "pager"]


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n) for n in range(0, 11)] == [0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff(10_000) == 300
    assert backoff(3, base=0.01, cap=1.0) == pytest.approx(0.04)


def test_retryable_statuses() -> None:
    assert all(is_retryable_status(s) for s in (500, 502, 503, 504, 408, 429))
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 410, 301))


def test_scrub_hides_the_secret_path() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    text = f"POST {url} failed; server said: no hook /services/T000/B000/XXXXSECRET"
    out = scrub(text, url)
    assert "XXXXSECRET" not in out
    assert "https://hooks.slack.com/***" in out
