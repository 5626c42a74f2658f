"""What a notification says: the generic webhook body (spec section 4) and its Slack form.

Pure functions of an :class:`AlertNotice` (or a plain mapping with the same keys) and ``now``.
The outbox stores the webhook body; the Slack notifier derives its body from it at send time,
so one stored row is enough for every kind of notifier.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

SERVICE = "bounce_rate_monitor"

SEVERITIES = ("info", "warning", "critical")
_RANK = {name: i for i, name in enumerate(SEVERITIES)}

# Rules whose ``value`` is not a bounce rate: their body carries ``bounce_rate: null`` unless
# the caller gives one, and a complaint rule also gets ``complaint_rate``.
_NOT_BOUNCE_RULES = ("complaint", "quota", "stale", "signature")

SLACK_COLORS = {"info": "#439FE0", "warning": "#f2c744", "critical": "#d00000"}
SLACK_RESOLVED_COLOR = "good"  # Slack's green


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """The fields of an alert a notification needs; not a database row."""

    alert_id: str
    rule: str
    severity: str  # info | warning | critical
    title: str
    message: str
    state: str = "firing"  # firing | acknowledged | resolved
    ip: str = ""
    subuser: str = ""  # '' (none) is sent as null
    value: float | None = None  # the rule's rate
    sent: int = 0
    window_seconds: float = 3600.0
    bounce_rate: float | None = None  # defaults to ``value`` for bounce rules
    host: str | None = None
    transition: str | None = None  # opened | escalated | rose | resolved ...
    provider: str = ""  # provider-scoped alerts only; '' (IP-wide) is left out of the body


_NOTICE_FIELDS = frozenset(f.name for f in fields(AlertNotice))


def severity_rank(severity: str) -> int:
    """info 0 < warning 1 < critical 2; ValueError for anything else."""
    try:
        return _RANK[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}") from None


def passes(severity: str, min_severity: str) -> bool:
    """Whether an alert of ``severity`` goes to a notifier with ``min_severity``.

    Callers pass the alert's severity for every notice of it, resolved ones included: a
    resolved notice goes out exactly where the alert's firing notices went.
    """
    return severity_rank(severity) >= severity_rank(min_severity)


def iso_millis(ts: float) -> str:
    """``2024-01-15T10:30:45.123Z`` for unix seconds ``ts``."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _notice(alert: AlertNotice | Mapping[str, Any]) -> AlertNotice:
    if isinstance(alert, AlertNotice):
        return alert
    return AlertNotice(**{k: v for k, v in alert.items() if k in _NOTICE_FIELDS})


def _window(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else seconds


def webhook_body(alert: AlertNotice | Mapping[str, Any], now: float) -> dict[str, Any]:
    """The generic webhook JSON body of spec section 4, plus ``rule``, ``value``, ``host``."""
    n = _notice(alert)
    severity_rank(n.severity)  # validate
    rule = n.rule.lower()
    not_bounce = any(word in rule for word in _NOT_BOUNCE_RULES)
    bounce_rate = n.bounce_rate if n.bounce_rate is not None else (None if not_bounce else n.value)
    body: dict[str, Any] = {
        "severity": n.severity,
        "title": n.title,
        "message": n.message,
        "timestamp": iso_millis(now),
        "service": SERVICE,
        "alert_id": n.alert_id,
        "state": n.state,
        "ip": n.ip or None,
        "subuser": n.subuser or None,
        "bounce_rate": bounce_rate,
        "sent": n.sent,
        "window_seconds": _window(n.window_seconds),
        "rule": n.rule,
        "value": n.value,
    }
    if "complaint" in rule:
        body["complaint_rate"] = n.value
    if n.transition:
        body["transition"] = n.transition
    if n.host:
        body["host"] = n.host
    if n.provider:
        body["provider"] = n.provider
    return body


def _pct(rate: Any) -> str:
    return f"{rate * 100:.2f}%" if isinstance(rate, int | float) else "n/a"


def slack_color(body: Mapping[str, Any]) -> str:
    if body.get("state") == "resolved":
        return SLACK_RESOLVED_COLOR
    return SLACK_COLORS.get(str(body.get("severity")), SLACK_COLORS["info"])


def slack_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message for a webhook body: ``text`` plus one attachment
    coloured by severity (green once resolved) with ip, subuser, rate and sent fields."""
    state = str(body.get("state") or "firing")
    severity = str(body.get("severity") or "info")
    tag = "RESOLVED" if state == "resolved" else severity.upper()
    title = str(body.get("title") or body.get("rule") or "alert")
    text = f"[{tag}] {title}"
    rate = body.get("value")
    if rate is None:
        rate = body.get("bounce_rate")
    rate_title = "Complaint rate" if "complaint_rate" in body else "Rate"
    attachment: dict[str, Any] = {
        "fallback": f"{text}: {body.get('message', '')}",
        "color": slack_color(body),
        "title": title,
        "text": str(body.get("message") or ""),
        "fields": [
            {"title": "IP", "value": str(body.get("ip") or "-"), "short": True},
            {"title": "Subuser", "value": str(body.get("subuser") or "-"), "short": True},
            {"title": rate_title, "value": _pct(rate), "short": True},
            {"title": "Sent", "value": str(body.get("sent", 0)), "short": True},
        ],
        "footer": " · ".join(str(x) for x in (body.get("service", SERVICE), body.get("host")) if x),
    }
    ts = body.get("timestamp")
    if isinstance(ts, str):
        with contextlib.suppress(ValueError):
            attachment["ts"] = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())
    return {"text": text, "attachments": [attachment]}


__all__ = [
    "SERVICE",
    "SEVERITIES",
    "SLACK_COLORS",
    "AlertNotice",
    "iso_millis",
    "passes",
    "severity_rank",
    "slack_body",
    "slack_color",
    "webhook_body",
]
