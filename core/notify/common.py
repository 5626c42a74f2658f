"""What the email, PagerDuty, Alertmanager and Telegram notifiers share.

- :class:`NotifierConfig`: the fields every notifier kind has (name, ``min_severity``, the
  ``rules``/``pools``/``providers`` filters, timeout). Frozen, so one config object can be
  passed around freely; secrets are declared ``repr=False`` in the subclasses.
- :func:`accepts`: the pure "does this notice go to this notifier" test, so the engine can
  decide recipients at enqueue time from the config alone.
- Reading the stored webhook body (:func:`tag`, :func:`epoch`), since every notifier derives
  its request from that body at send time.
- :func:`post_json` and :func:`check_status`: one HTTP POST with a hard deadline, and the
  turn of an HTTP answer into :class:`DeliveryError`, with every secret scrubbed first.

Pure of infrastructure: no settings, storage or UI imports. ``DeliveryError`` comes from
``sender`` because the dispatcher catches that very class.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from opsconsole.core.notify.payload import passes, severity_rank
from opsconsole.core.notify.sender import DeliveryError, is_retryable_status

DEFAULT_TIMEOUT = 10.0
MAX_DETAIL = 200  # characters of an endpoint's error answer kept in a DeliveryError
_REDACTED = "***"


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifierConfig:
    """Fields common to every notifier kind.

    ``rules``, ``pools`` and ``providers`` are allow-lists; empty means "all". A non-empty
    list only lets through a notice whose body carries one of the listed values, so a notice
    without a ``pool`` field never passes a ``pools`` filter (fail closed: a pager that asked
    for one pool must not be woken by alerts nobody could attribute to it).
    """

    name: str
    min_severity: str = "info"
    rules: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        severity_rank(self.min_severity)  # ValueError on a typo, at build time
        if self.timeout <= 0:
            raise ValueError(f"{self.name}: timeout must be positive")


def accepts(config: NotifierConfig, body: Mapping[str, Any]) -> bool:
    """Whether the notice ``body`` goes to the notifier configured by ``config``.

    Severity is the alert's (a resolved notice keeps it), so resolves follow their firings.
    """
    if not passes(str(body.get("severity") or "info"), config.min_severity):
        return False
    for allowed, key in (
        (config.rules, "rule"),
        (config.pools, "pool"),
        (config.providers, "provider"),
    ):
        if allowed and str(body.get(key) or "") not in allowed:
            return False
    return True


def tag(body: Mapping[str, Any]) -> str:
    """The bracketed word a human-facing notice starts with: ``RESOLVED``, ``ACKNOWLEDGED``
    or the upper-case severity (``CRITICAL``)."""
    state = str(body.get("state") or "firing")
    if state == "resolved":
        return "RESOLVED"
    if state == "acknowledged":
        return "ACKNOWLEDGED"
    return str(body.get("severity") or "info").upper()


def one_line(text: object, limit: int = 0) -> str:
    """``text`` with all whitespace runs (newlines included) collapsed to one space: alert
    titles come from log lines and must not break a mail header or a one-line summary."""
    out = " ".join(str(text).split())
    if limit and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def epoch(value: object) -> float | None:
    """Unix seconds from a body field holding seconds or an ISO 8601 string; None if absent
    or unreadable (callers fall back to the notice's own timestamp)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def scrub_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``; longest first, so a secret
    that contains another is hidden whole."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


def safe_url(url: str) -> str:
    """``url`` without user info, path and query: how error text names an endpoint."""
    u = httpx.URL(url)
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{u.host}{port}"


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    payload: Any,
    *,
    timeout: float,
    endpoint: str,
    secrets: Iterable[str] = (),
) -> httpx.Response:
    """POST ``payload`` as compact JSON with a total deadline of ``timeout`` seconds.

    Transport failures (refused, reset, timed out) become retryable ``DeliveryError`` named
    by ``endpoint``; the real ``url`` may hold a secret and never reaches the error text.
    """
    content = json.dumps(payload, separators=(",", ":")).encode()
    try:
        async with asyncio.timeout(timeout):
            return await client.post(
                url,
                content=content,
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
    except (TimeoutError, httpx.TimeoutException):
        raise DeliveryError(f"{endpoint}: timed out after {timeout:g}s", True) from None
    except httpx.HTTPError as e:
        what = str(e) or type(e).__name__
        reason = scrub_secrets(f"{endpoint}: {what}", [url, *secrets])
        raise DeliveryError(reason, True) from None


def retry_after_header(response: httpx.Response) -> float | None:
    """A ``Retry-After`` given in seconds; None when absent or an HTTP date."""
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def check_status(
    response: httpx.Response,
    *,
    endpoint: str,
    ok: Iterable[int] = (),
    secrets: Iterable[str] = (),
    retry_after: float | None = None,
) -> None:
    """Raise ``DeliveryError`` unless the answer is 2xx (or in ``ok``).

    5xx and 408/425/429 are retryable; other 4xx are not. ``retry_after`` (a notifier may
    read it from the body) wins over the ``Retry-After`` header.
    """
    status = response.status_code
    if 200 <= status < 300 or status in set(ok):
        return
    detail = one_line(response.text)[:MAX_DETAIL] if response.content else ""
    reason = f"{endpoint}: HTTP {status}" + (f": {detail}" if detail else "")
    if retry_after is None and status in (429, 503):
        retry_after = retry_after_header(response)
    reason = scrub_secrets(reason, secrets)
    raise DeliveryError(reason, is_retryable_status(status), retry_after)


def max_severity(severities: Iterable[str]) -> str:
    """The highest of ``severities`` (``info`` for none)."""
    return max(severities, key=severity_rank, default="info")


__all__ = [
    "DEFAULT_TIMEOUT",
    "NotifierConfig",
    "accepts",
    "check_status",
    "epoch",
    "max_severity",
    "one_line",
    "post_json",
    "retry_after_header",
    "safe_url",
    "scrub_secrets",
    "tag",
]


class NotifierBase:
    """What every notifier of these kinds shares: its config's name, threshold and timeout,
    a redacted ``endpoint`` to show, and the config's filters (``accepts``)."""

    kind = ""

    def __init__(self, config: NotifierConfig, endpoint: str) -> None:
        self.config = config
        self.name = config.name
        self.min_severity = config.min_severity
        self.timeout = config.timeout
        self.endpoint = endpoint  # safe to show: no secret in it

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, endpoint={self.endpoint!r})"

    def accepts(self, body: Mapping[str, Any]) -> bool:
        return accepts(self.config, body)
