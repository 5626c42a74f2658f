"""A local stand-in for kumod's admin API on 127.0.0.1 (KumoMTA cannot be installed here).

It speaks the documented shape of ``/api/admin/suspend-ready-q/v1``: ``POST {name, reason,
duration|expires}`` answers ``{"id": UUID}`` (400 without ``name`` or ``reason``), ``GET``
lists the active entries ``{id, name, reason, duration, expires}``, ``DELETE {id}`` answers
200 or 404. Every call is recorded as (method, path, JSON body).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

PATH = "/api/admin/suspend-ready-q/v1"


class KumodApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.active: dict[str, dict[str, Any]] = {}
        self.fail_posts = 0  # answer this many POSTs with HTTP 500 first
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                return json.loads(raw) if raw else None

            def _answer(self, status: int, payload: Any = None) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                body = self._body()
                with api._lock:
                    api.calls.append((method, self.path, body))
                    if self.path != PATH:
                        return self._answer(404, {"error": "no such endpoint"})
                    if method == "GET":
                        return self._answer(200, list(api.active.values()))
                    if method == "POST" and api.fail_posts > 0:
                        api.fail_posts -= 1
                        return self._answer(500, {"error": "stand-in told to fail"})
                    if method == "POST":
                        if (
                            not isinstance(body, dict)
                            or not body.get("name")
                            or not body.get("reason")
                        ):
                            return self._answer(400, {"error": "name and reason are required"})
                        sid = str(uuid.uuid4())
                        api.active[sid] = {
                            "id": sid,
                            "name": body["name"],
                            "reason": body["reason"],
                            "duration": body.get("duration") or "1h",
                            "expires": body.get("expires") or "",
                        }
                        return self._answer(200, {"id": sid})
                    if method == "DELETE":
                        gone = body.get("id") if isinstance(body, dict) else None
                        if gone in api.active:
                            del api.active[gone]
                            return self._answer(200)
                        return self._answer(404, {"error": "no such suspension"})
                    return self._answer(405)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler


@pytest.fixture
def kumod_api() -> Iterator[KumodApi]:
    api = KumodApi()
    try:
        yield api
    finally:
        api.close()
