"""A real HTTP server on 127.0.0.1 that receives webhooks, for tests of notifiers.

``ThreadingHTTPServer`` on an ephemeral port in a daemon thread; every request is recorded
(method, path, headers, raw and JSON body, the status it got). It can be told to refuse the
first N posts, to answer with a fixed status, and to delay its answers. ``SlackReceiver``
answers like a Slack incoming webhook: ``200 ok`` (text), ``400 invalid_payload`` when the
JSON lacks ``text`` and ``attachments``.

Use the fixtures from another test module by binding them at module level (a plain
assignment keeps ruff's F401/F811 quiet where ``from ... import http_receiver`` would not)::

    from tests.helpers import http_receiver as receivers

    http_receiver = receivers.http_receiver

or ``make_receiver`` (a factory) when a test needs several.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any  # None when the body is not JSON
    status: int  # what the receiver answered
    at: float = field(default_factory=time.monotonic)


class HttpReceiver:
    """Records requests; answers ``status`` (default 200) after ``delay`` seconds, except
    that the next scripted responses (``fail_first``/``script``) are used first."""

    def __init__(self, *, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.requests: list[Received] = []
        self._script: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # --- configuration ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    def fail_first(self, n: int, status: int = 500, body: str | None = None) -> None:
        """The next ``n`` requests get ``status`` (the body echoes the path unless given)."""
        with self._lock:
            self._script.extend([(status, body if body is not None else "")] * n)

    def script(self, *statuses: int) -> None:
        """The next requests get these statuses, in order; then ``status`` again."""
        with self._lock:
            self._script.extend((s, "") for s in statuses)

    # --- what arrived -------------------------------------------------------------------

    @property
    def posts(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    @property
    def accepted(self) -> list[Received]:
        """Requests answered 2xx."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 2.0) -> bool:
        """Block until at least ``count`` requests arrived (thread side; for sync tests)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> HttpReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- serving ------------------------------------------------------------------------

    def respond(self, method: str, path: str, data: Any, raw: bytes) -> tuple[int, str, str]:
        """(status, content type, body) for a request; subclasses change the answer."""
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
        if scripted is not None:
            status, body = scripted
        else:
            status, body = self.status, ""
        if not body:
            body = "ok" if 200 <= status < 300 else f"error {status} for {path}"
        return status, "text/plain", body

    def _record(self, method: str, handler: BaseHTTPRequestHandler) -> tuple[int, str, str]:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        status, ctype, body = self.respond(method, handler.path, data, raw)
        rec = Received(
            method=method,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=raw,
            json=data,
            status=status,
        )
        with self._changed:
            self.requests.append(rec)
            self._changed.notify_all()
        return status, ctype, body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self, method: str) -> None:
                status, ctype, body = receiver._record(method, self)
                if receiver.delay > 0:
                    receiver._closing.wait(receiver.delay)
                payload = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout): nothing to answer

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class SlackReceiver(HttpReceiver):
    """Answers like ``hooks.slack.com``: ``ok`` or ``400 invalid_payload``."""

    def respond(self, method: str, path: str, data: Any, raw: bytes) -> tuple[int, str, str]:
        status, ctype, body = super().respond(method, path, data, raw)
        if not 200 <= status < 300:
            return status, ctype, body
        if not isinstance(data, dict) or not (data.get("text") or data.get("attachments")):
            return 400, "text/plain", "invalid_payload"
        return 200, "text/plain", "ok"


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., HttpReceiver]]:
    """Factory: ``make_receiver(status=200, delay=0.0, slack=False)``; all closed at teardown."""
    made: list[HttpReceiver] = []

    def make(*, status: int = 200, delay: float = 0.0, slack: bool = False) -> HttpReceiver:
        cls = SlackReceiver if slack else HttpReceiver
        r = cls(status=status, delay=delay)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as r:
        yield r


@pytest.fixture
def slack_receiver() -> Iterator[SlackReceiver]:
    with SlackReceiver() as r:
        yield r
