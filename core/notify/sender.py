"""Delivering one notification body over HTTP: generic webhook and Slack incoming webhook.

Every notifier shares one ``httpx.AsyncClient`` (see :func:`make_client`); each request has
its notifier's own timeout, enforced as a total deadline, so one slow endpoint costs at most
that long. Failures raise :class:`DeliveryError` saying whether a retry can help. Error text
never holds the notifier's URL: it names the endpoint by its redacted form
(``https://hooks.slack.com/***``), and the URL's secret path is scrubbed from anything an
endpoint echoes back. httpx's own request log line is redacted the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import httpx

from opsconsole.core.config import NotifierConfig, Secret
from opsconsole.core.notify.payload import passes, slack_body
from opsconsole.core.redact import redact_url

log = logging.getLogger("opsconsole.notify")

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "opsconsole-notify/1"
# 408 Request Timeout, 425 Too Early, 429 Too Many Requests: the same body can succeed later.
RETRYABLE_4XX = frozenset({408, 425, 429})
_MAX_DETAIL = 200


class DeliveryError(Exception):
    """A notification was not accepted. ``reason`` is safe to store and log (no secrets)."""

    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class Notifier(Protocol):
    name: str
    min_severity: str

    async def send(self, body: Mapping[str, Any]) -> None:
        """Deliver ``body`` (a webhook body) or raise :class:`DeliveryError`."""
        ...


def backoff(attempts: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base, 2*base, 4*base ...
    capped at ``cap``; no jitter (one engine sends, there is no herd to spread)."""
    if attempts <= 0:
        return 0.0
    # Avoid float overflow on absurd attempt counts: past 64 doublings we are at the cap.
    return float(min(cap, base * 2 ** min(attempts - 1, 64)))


def is_retryable_status(status: int) -> bool:
    """5xx and 408/425/429 are worth retrying; other 4xx (and 3xx: redirects are not
    followed, a moved webhook is a configuration error) will fail the same way again."""
    return status >= 500 or status in RETRYABLE_4XX


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` (and its secret path) replaced by the redacted form."""
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    split = httpx.URL(url)
    secret = split.raw_path.decode("ascii", "replace")
    if len(secret) > 1:
        text = text.replace(secret, "/***")
    if split.userinfo:
        text = text.replace(split.userinfo.decode("ascii", "replace"), "***")
    return text


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for webhooks, fall back to our own backoff


class _RedactHttpxLog(logging.Filter):
    """httpx logs ``HTTP Request: POST <full url> ...`` at INFO: hide the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


_FILTER = _RedactHttpxLog()


def make_client(timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """The one client every notifier shares. Redirects are not followed."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
    )


class WebhookNotifier:
    """POSTs the generic webhook body as JSON; any 2xx is success."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str | Secret,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        min_severity: str = "info",
    ) -> None:
        self.name = name
        self._url = url.get_secret_value() if isinstance(url, Secret) else url
        self.client = client
        self.timeout = timeout
        self.min_severity = min_severity
        self.endpoint = redact_url(self._url)  # safe to show

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, endpoint={self.endpoint!r})"

    def render(self, body: Mapping[str, Any]) -> Any:
        return dict(body)

    def check_response(self, response: httpx.Response) -> None:
        """Raise DeliveryError unless the endpoint accepted the notification."""
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = " ".join(response.text.split())[:_MAX_DETAIL] if response.content else ""
        reason = f"{self.endpoint}: HTTP {status}" + (f": {detail}" if detail else "")
        retry_after = _retry_after(response) if status in (429, 503) else None
        raise DeliveryError(self._safe(reason), is_retryable_status(status), retry_after)

    async def send(self, body: Mapping[str, Any]) -> None:
        content = json.dumps(self.render(body), separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(
                    self._url,
                    content=content,
                    headers={"Content-Type": "application/json"},
                    timeout=self.timeout,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise DeliveryError(
                f"{self.endpoint}: timed out after {self.timeout:g}s", True
            ) from None
        except httpx.HTTPError as e:
            what = str(e) or type(e).__name__
            raise DeliveryError(self._safe(f"{self.endpoint}: {what}"), True) from None
        self.check_response(response)

    def _safe(self, text: str) -> str:
        return scrub(text, self._url)


class SlackNotifier(WebhookNotifier):
    """A Slack incoming webhook: ``text`` + a coloured attachment. Slack answers ``ok``;
    errors come back as 4xx with a code (``invalid_payload``, ``no_service`` ...)."""

    kind = "slack"

    def render(self, body: Mapping[str, Any]) -> Any:
        return slack_body(body)


def named(configs: Iterable[NotifierConfig]) -> dict[str, NotifierConfig]:
    """Configs by notifier name: the configured ``name`` or the kind. Outbox rows are keyed
    by it, so it must be stable across restarts; a repeated name gets ``#2``, ``#3`` ... in
    config order."""
    out: dict[str, NotifierConfig] = {}
    for s in configs:
        name = s.label
        n = 2
        while name in out:
            name = f"{s.label}#{n}"
            n += 1
        out[name] = s
    return out


def build_notifiers(
    configs: Iterable[NotifierConfig], client: httpx.AsyncClient
) -> dict[str, Notifier]:
    """Notifiers by name (see :func:`named`), all on ``client``; every kind is built by
    ``kinds.build_one`` (one registry)."""
    from opsconsole.core.notify.kinds import build_one

    return {name: build_one(name, s, client) for name, s in named(configs).items()}


def min_severities(configs: Iterable[NotifierConfig]) -> dict[str, str]:
    """Notifier name -> min_severity: enough to address notices without any client."""
    return {name: s.min_severity for name, s in named(configs).items()}


def recipients(notifiers: Mapping[str, Notifier | str], severity: str) -> list[str]:
    """Names of the notifiers an alert of ``severity`` goes to. Values are notifiers or
    plain ``min_severity`` strings. Use the alert's severity for its resolved notice too."""
    out = []
    for name, n in notifiers.items():
        minimum = n if isinstance(n, str) else n.min_severity
        if passes(severity, minimum):
            out.append(name)
    return out


__all__ = [
    "DeliveryError",
    "Notifier",
    "SlackNotifier",
    "WebhookNotifier",
    "backoff",
    "build_notifiers",
    "is_retryable_status",
    "make_client",
    "min_severities",
    "named",
    "recipients",
    "scrub",
]
