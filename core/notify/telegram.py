"""Telegram Bot API: one ``sendMessage`` per notice to a chat, group or channel.

The bot token is part of the request *path* (``/bot<token>/sendMessage``), so any error
that quotes the URL would leak it; every error text is scrubbed of the token, and the
endpoint is named ``https://api.telegram.org/bot***``. The shared client's httpx log line
is redacted by ``sender.make_client``'s filter.

Text is sent with ``parse_mode=HTML``: only ``<b>`` is ours, every value from the alert
(log-line text) is escaped, because an unescaped ``<`` makes Telegram reject the whole
message with 400. Telegram caps a message at 4096 characters; the message part is cut to
fit. A 429 answer carries ``parameters.retry_after`` (seconds): it becomes the
``DeliveryError.retry_after`` the dispatcher honours.
"""

from __future__ import annotations

import html
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
    tag,
)

DEFAULT_API_URL = "https://api.telegram.org"
TEXT_LIMIT = 4096
_FIELDS = (("IP", "ip"), ("Subuser", "subuser"), ("Pool", "pool"), ("Provider", "provider"))


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramConfig(NotifierConfig):
    """``[[notify]] kind = "telegram"``. ``api_url`` is overridable for tests only."""

    token: str = field(repr=False)
    chat_id: str
    api_url: str = DEFAULT_API_URL

    def __post_init__(self) -> None:
        NotifierConfig.__post_init__(self)
        if not self.token or not self.chat_id:
            raise ValueError(f"{self.name}: token and chat_id are required")


def _e(text: object) -> str:
    return html.escape(str(text), quote=False)


def _fit(message: str, room: int) -> str:
    """``message`` escaped and cut to ``room`` characters, never inside an entity."""
    escaped = _e(message)
    if len(escaped) <= room:
        return escaped
    cut = escaped[: max(0, room - 1)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def text(body: Mapping[str, Any]) -> str:
    """The HTML message: bold ``[TAG] title``, the message, then the identifying fields."""
    title = one_line(body.get("title") or body.get("rule") or "alert", 200)
    head = f"<b>{_e(f'[{tag(body)}] {title}')}</b>"
    tail = [f"{label}: {_e(body[key])}" for label, key in _FIELDS if body.get(key)]
    if isinstance(body.get("value"), int | float):
        tail.append(f"Rate: {body['value'] * 100:.2f}%")
    rest = "\n".join(tail)
    message = _fit(str(body.get("message") or ""), TEXT_LIMIT - len(head) - len(rest) - 2)
    return "\n".join(part for part in (head, message, rest) if part)


def request(config: TelegramConfig, body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``sendMessage`` JSON body."""
    return {
        "chat_id": config.chat_id,
        "text": text(body),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


def _retry_after(response: httpx.Response) -> float | None:
    try:
        data = response.json()
    except ValueError:
        return None
    params = data.get("parameters") if isinstance(data, dict) else None
    value = params.get("retry_after") if isinstance(params, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    return None


class TelegramNotifier(NotifierBase):
    """Sends each notice as one message; ``{"ok": true}`` with 200 is success."""

    kind = "telegram"

    config: TelegramConfig

    def __init__(self, config: TelegramConfig, client: httpx.AsyncClient) -> None:
        super().__init__(config, f"{safe_url(config.api_url)}/bot***")
        self.client = client
        self._url = f"{config.api_url.rstrip('/')}/bot{config.token}/sendMessage"

    async def send(self, body: Mapping[str, Any]) -> None:
        secrets = [self._url, self.config.token]
        response = await post_json(
            self.client,
            self._url,
            request(self.config, body),
            timeout=self.timeout,
            endpoint=self.endpoint,
            secrets=secrets,
        )
        # 400 (bad chat id, bad HTML) and 403 (bot blocked or removed) stay so: not retried.
        retry_after = _retry_after(response) if response.status_code == 429 else None
        check_status(response, endpoint=self.endpoint, secrets=secrets, retry_after=retry_after)


__all__ = ["DEFAULT_API_URL", "TelegramConfig", "TelegramNotifier", "request", "text"]
