"""HTTP receivers on 127.0.0.1 that answer like PagerDuty, Alertmanager and Telegram.

They extend :class:`tests.helpers.http_receiver.HttpReceiver` (same recording, same
``fail_first``/``script``), and check the request the way the real service does, so a
notifier that sends the wrong shape gets the real service's refusal, not a silent 200:

- :class:`PagerDutyReceiver`: ``POST /v2/enqueue``; 202 ``{"status": "success", ...}``;
  400 ``invalid event`` without routing key, a known action or a dedup key (and, for a
  trigger, a payload with summary, source and a valid severity).
- :class:`AlertmanagerReceiver`: ``POST /api/v2/alerts`` with a JSON array whose elements
  have ``labels``; 200 empty, else 400.
- :class:`TelegramReceiver`: ``POST /bot<token>/sendMessage`` for its one ``token``; 200
  ``{"ok": true, "result": ...}``; 404 for another token; ``rate_limit(n)`` queues a 429
  with ``parameters.retry_after``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.http_receiver import HttpReceiver

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")


class PagerDutyReceiver(HttpReceiver):
    def __init__(self, *, status: int = 202, delay: float = 0.0) -> None:
        super().__init__(status=status, delay=delay)

    @staticmethod
    def problem(data: Any) -> str | None:
        if not isinstance(data, dict):
            return "body is not an object"
        if not data.get("routing_key"):
            return "routing_key missing"
        if data.get("event_action") not in PD_ACTIONS:
            return "bad event_action"
        if not data.get("dedup_key"):
            return "dedup_key missing"  # we always send one
        if data["event_action"] == "trigger":
            p = data.get("payload")
            if not isinstance(p, dict) or not p.get("summary") or not p.get("source"):
                return "payload.summary and payload.source are required"
            if p.get("severity") not in PD_SEVERITIES:
                return "bad payload.severity"
        return None

    def respond(self, method: str, path: str, data: Any, raw: bytes) -> tuple[int, str, str]:
        status, ctype, body = super().respond(method, path, data, raw)
        if not 200 <= status < 300:
            return status, ctype, body
        problem = "wrong path" if path != "/v2/enqueue" else self.problem(data)
        if problem:
            answer = {"status": "invalid event", "message": "Event object is invalid"}
            return 400, "application/json", json.dumps({**answer, "errors": [problem]})
        answer = {"status": "success", "message": "Event processed", "dedup_key": data["dedup_key"]}
        return 202, "application/json", json.dumps(answer)


class AlertmanagerReceiver(HttpReceiver):
    def respond(self, method: str, path: str, data: Any, raw: bytes) -> tuple[int, str, str]:
        status, ctype, body = super().respond(method, path, data, raw)
        if not 200 <= status < 300:
            return status, ctype, body
        if path != "/api/v2/alerts":
            return 404, "text/plain", "not found"
        if not isinstance(data, list) or not all(
            isinstance(a, dict) and isinstance(a.get("labels"), dict) for a in data
        ):
            return 400, "application/json", json.dumps("invalid alerts")
        return 200, "application/json", ""

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """Every alert element posted and accepted, in arrival order."""
        return [a for r in self.accepted for a in r.json]


class TelegramReceiver(HttpReceiver):
    def __init__(self, token: str, *, status: int = 200, delay: float = 0.0) -> None:
        super().__init__(status=status, delay=delay)
        self.token = token
        self._limits: list[int] = []
        self._limit_lock = threading.Lock()

    def rate_limit(self, retry_after: int) -> None:
        """The next request gets Telegram's 429 with ``parameters.retry_after``."""
        with self._limit_lock:
            self._limits.append(retry_after)

    def respond(self, method: str, path: str, data: Any, raw: bytes) -> tuple[int, str, str]:
        with self._limit_lock:
            limit = self._limits.pop(0) if self._limits else None
        if limit is not None:
            answer = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {limit}",
                "parameters": {"retry_after": limit},
            }
            return 429, "application/json", json.dumps(answer)
        status, ctype, body = super().respond(method, path, data, raw)
        if not 200 <= status < 300:
            return status, ctype, body
        if path != f"/bot{self.token}/sendMessage":
            return (
                404,
                "application/json",
                '{"ok":false,"error_code":404,"description":"Not Found"}',
            )
        if not isinstance(data, dict) or not data.get("chat_id") or not data.get("text"):
            answer = {"ok": False, "error_code": 400, "description": "Bad Request: text is empty"}
            return 400, "application/json", json.dumps(answer)
        result = {"message_id": len(self.requests) + 1, "chat": {"id": data["chat_id"]}}
        return 200, "application/json", json.dumps({"ok": True, "result": result})


@pytest.fixture
def pagerduty_receiver() -> Iterator[PagerDutyReceiver]:
    r = PagerDutyReceiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def alertmanager_receiver() -> Iterator[AlertmanagerReceiver]:
    r = AlertmanagerReceiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def make_telegram_receiver() -> Iterator[Callable[[str], TelegramReceiver]]:
    made: list[TelegramReceiver] = []

    def make(token: str) -> TelegramReceiver:
        r = TelegramReceiver(token)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
