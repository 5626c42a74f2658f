"""PagerDuty Events API v2: every notice of one alert lands on one incident.

The ``dedup_key`` is the body's ``alert_id``, so the trigger, the acknowledge and the
resolve of one alert all reach the same incident, and a retried trigger is folded into it by
PagerDuty instead of paging twice. A grouped notice (storm control, see ``grouping``) has a
group id as its ``alert_id``: one incident for the whole group.

What the body must hold: ``alert_id``, ``severity``, ``title``, and ``state`` and/or
``transition``; ``message``, ``timestamp``, ``ip``, ``pool``, ``rule``, ``host`` are used
when present. Acknowledge and resolve events carry only ``routing_key``, ``event_action``
and ``dedup_key``: PagerDuty ignores a payload on them.

The routing key is a credential (anyone holding it can open incidents): it is kept out of
``repr`` and scrubbed from any error text, including an echo in PagerDuty's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from opsconsole.core.notify.common import (
    NotifierBase,
    NotifierConfig,
    check_status,
    one_line,
    post_json,
    safe_url,
)

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries; we cut them ourselves, visibly

# Our severities map one to one; PagerDuty's "error" has no counterpart in our policy.
SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}
_TRIGGER = frozenset({"firing", "opened", "escalated", "rose", "renotified", "reopened"})
_ACTIONS = {"acknowledged": "acknowledge", "resolved": "resolve"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PagerDutyConfig(NotifierConfig):
    """``[[notify]] kind = "pagerduty"``. ``url`` is overridable for tests only."""

    routing_key: str = field(repr=False)
    url: str = DEFAULT_URL
    source: str = "opsconsole"  # used when the body names no host

    def __post_init__(self) -> None:
        NotifierConfig.__post_init__(self)
        if not self.routing_key:
            raise ValueError(f"{self.name}: routing_key is empty")


def event_action(body: Mapping[str, Any]) -> str:
    """``trigger``, ``acknowledge`` or ``resolve``. The transition decides when it is one we
    know (an escalation of an acknowledged alert is a trigger); else the state does."""
    transition = str(body.get("transition") or "")
    if transition in _ACTIONS:
        return _ACTIONS[transition]
    if transition in _TRIGGER:
        return "trigger"
    return _ACTIONS.get(str(body.get("state") or "firing"), "trigger")


def _summary(body: Mapping[str, Any]) -> str:
    title = one_line(body.get("title") or body.get("rule") or "alert")
    message = one_line(body.get("message") or "")
    return one_line(f"{title}: {message}" if message else title, SUMMARY_LIMIT)


def event(config: PagerDutyConfig, body: Mapping[str, Any]) -> dict[str, Any]:
    """The Events API v2 request body for one notice."""
    action = event_action(body)
    out: dict[str, Any] = {
        "routing_key": config.routing_key,
        "event_action": action,
        "dedup_key": str(body.get("alert_id") or ""),
    }
    if action != "trigger":
        return out
    payload: dict[str, Any] = {
        "summary": _summary(body),
        "source": str(body.get("host") or config.source),
        "severity": SEVERITY.get(str(body.get("severity")), "info"),
    }
    if body.get("timestamp"):
        payload["timestamp"] = str(body["timestamp"])
    for key, field_name in (("component", "ip"), ("group", "pool"), ("class", "rule")):
        if body.get(field_name):
            payload[key] = str(body[field_name])
    payload["custom_details"] = {k: v for k, v in body.items() if v is not None and v != ""}
    out["payload"] = payload
    return out


class PagerDutyNotifier(NotifierBase):
    """POSTs one event per notice; 202 is success."""

    kind = "pagerduty"

    config: PagerDutyConfig

    def __init__(self, config: PagerDutyConfig, client: httpx.AsyncClient) -> None:
        super().__init__(config, safe_url(config.url))
        self.client = client

    async def send(self, body: Mapping[str, Any]) -> None:
        secrets = [self.config.routing_key]
        response = await post_json(
            self.client,
            self.config.url,
            event(self.config, body),
            timeout=self.timeout,
            endpoint=self.endpoint,
            secrets=secrets,
        )
        # 400: the event is malformed (or the key unknown) and stays so; 429: PagerDuty's
        # rate limit, retried with the dispatcher's backoff (or Retry-After if sent).
        check_status(response, endpoint=self.endpoint, secrets=secrets)


__all__ = [
    "DEFAULT_URL",
    "SEVERITY",
    "PagerDutyConfig",
    "PagerDutyNotifier",
    "event",
    "event_action",
]
