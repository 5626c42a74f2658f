"""Prometheus Alertmanager (API v2): alerts posted to ``{url}/api/v2/alerts``.

Alertmanager identifies an alert by its label set and forgets an active one that is not
re-posted within its ``resolve_timeout`` (5 minutes by default). Hence:

- labels are the alert's identity only: ``alertname`` (the rule), ``ip``, ``subuser``,
  ``provider``, ``pool``, ``severity``, ``host``; empty values are dropped (Alertmanager
  treats an empty label as absent, and two spellings of "absent" would split one alert);
- ``startsAt`` is when the alert opened: the body's ``opened_at`` (ISO 8601 or unix
  seconds; ``started_at`` is accepted too), else the notice's own ``timestamp``. The engine
  should put ``opened_at`` in every body so a re-send does not move the start;
- ``endsAt`` is set only on a resolved notice: the body's ``resolved_at``, else its
  ``timestamp``. An acknowledged alert stays active (silences are Alertmanager's ack);
- active alerts are re-sent every ``resend_interval`` (default 60 s, validated to be well
  under ``resolve_timeout``): :func:`resend_due` says which are due, :func:`batch` builds one
  request body for all of them, and :meth:`AlertmanagerNotifier.send_batch` posts it.

``generatorURL`` is the body's ``url`` when present, else the configured ``generator_url``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from opsconsole.core.notify.common import (
    NotifierBase,
    NotifierConfig,
    check_status,
    epoch,
    one_line,
    post_json,
    safe_url,
)
from opsconsole.core.notify.payload import iso_millis

PATH = "/api/v2/alerts"
_LABELS = (
    ("alertname", "rule"),
    ("ip", "ip"),
    ("subuser", "subuser"),
    ("provider", "provider"),
    ("pool", "pool"),
    ("severity", "severity"),
    ("host", "host"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertmanagerConfig(NotifierConfig):
    """``[[notify]] kind = "alertmanager"``. ``url`` is the Alertmanager base URL
    (``http://alertmanager:9093``); tests point it at 127.0.0.1."""

    url: str
    resend_interval: float = 60.0
    resolve_timeout: float = 300.0  # the Alertmanager's own setting, for validation only
    generator_url: str = ""

    def __post_init__(self) -> None:
        NotifierConfig.__post_init__(self)
        if self.resend_interval <= 0:
            raise ValueError(f"{self.name}: resend_interval must be positive")
        # Two missed re-sends must not let Alertmanager resolve a still-active alert.
        if self.resend_interval * 2 > self.resolve_timeout:
            raise ValueError(
                f"{self.name}: resend_interval {self.resend_interval:g}s must be at most half "
                f"of Alertmanager's resolve_timeout {self.resolve_timeout:g}s"
            )


def labels(body: Mapping[str, Any]) -> dict[str, str]:
    """The identity labels of ``body``; empty values dropped."""
    out: dict[str, str] = {}
    for label, key in _LABELS:
        value = body.get(key)
        if value is not None and str(value) != "":
            out[label] = str(value)
    out.setdefault("alertname", "opsconsole_alert")
    return out


def _iso(value: object, fallback: object) -> str | None:
    ts = epoch(value)
    if ts is None:
        ts = epoch(fallback)
    return iso_millis(ts) if ts is not None else None


def alert(body: Mapping[str, Any], generator_url: str = "") -> dict[str, Any]:
    """One element of the ``POST /api/v2/alerts`` array for the notice ``body``."""
    opened = body.get("opened_at", body.get("started_at"))
    out: dict[str, Any] = {
        "labels": labels(body),
        "annotations": {
            "summary": one_line(body.get("title") or body.get("rule") or "alert"),
            "description": str(body.get("message") or ""),
        },
    }
    starts = _iso(opened, body.get("timestamp"))
    if starts is not None:
        out["startsAt"] = starts
    if body.get("state") == "resolved":
        ends = _iso(body.get("resolved_at"), body.get("timestamp"))
        if ends is not None:
            out["endsAt"] = ends
    link = str(body.get("url") or generator_url or "")
    if link:
        out["generatorURL"] = link
    return out


def batch(bodies: Iterable[Mapping[str, Any]], generator_url: str = "") -> list[dict[str, Any]]:
    """One request body for many notices (the periodic re-send of every active alert)."""
    return [alert(b, generator_url) for b in bodies]


def resend_due(
    active_alerts: Iterable[Mapping[str, Any]],
    last_sent: Mapping[str, float],
    now: float,
    every: float,
) -> list[Mapping[str, Any]]:
    """The bodies of ``active_alerts`` (latest notice of each open alert) not posted within
    the last ``every`` seconds, by ``alert_id``. A resolved body is never re-sent: its
    ``endsAt`` went out once through the outbox, and repeating it would only add noise."""
    due: list[Mapping[str, Any]] = []
    for body in active_alerts:
        if body.get("state") == "resolved":
            continue
        last = last_sent.get(str(body.get("alert_id") or ""))
        if last is None or now - last >= every:
            due.append(body)
    return due


class AlertmanagerNotifier(NotifierBase):
    """Posts a one-element array per notice; any 2xx is success."""

    kind = "alertmanager"

    config: AlertmanagerConfig

    def __init__(self, config: AlertmanagerConfig, client: httpx.AsyncClient) -> None:
        super().__init__(config, safe_url(config.url))
        self.client = client
        self.resend_interval = config.resend_interval
        self._url = config.url.rstrip("/") + PATH

    async def send(self, body: Mapping[str, Any]) -> None:
        await self.send_batch([body])

    async def send_batch(self, bodies: Sequence[Mapping[str, Any]]) -> None:
        """Post many alerts in one request (the re-send cadence); nothing for none."""
        if not bodies:
            return
        payload = batch(bodies, self.config.generator_url)
        secrets = [self.config.url]  # may carry basic-auth user info
        response = await post_json(
            self.client,
            self._url,
            payload,
            timeout=self.timeout,
            endpoint=self.endpoint,
            secrets=secrets,
        )
        check_status(response, endpoint=self.endpoint, secrets=secrets)


__all__ = [
    "PATH",
    "AlertmanagerConfig",
    "AlertmanagerNotifier",
    "alert",
    "batch",
    "labels",
    "resend_due",
]
