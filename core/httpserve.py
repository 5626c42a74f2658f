"""A minimal HTTP/1.1 server on ``asyncio.start_server`` with hard limits, for webhooks and
the /metrics, /health, /ready endpoints (no web framework is available, and these need
little: one request in, one response out).

Limits are the point: a request line plus headers over ``max_head`` bytes gets 431; a
declared body over ``max_body`` gets 413 *before* a byte of it is read; a POST/PUT without
``Content-Length`` gets 411 (chunked bodies are not supported); connections beyond
``max_connections`` get 503 and are closed at once; a client idle or slow for
``read_timeout`` seconds is dropped. Keep-alive follows HTTP/1.1 rules. The handler sees a
complete :class:`Request`; an exception in it is a 500 whose text is never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_head: int = 16 * 1024
    max_body: int = 1024 * 1024
    max_connections: int = 256
    read_timeout: float = 10.0
    keep_alive: bool = True


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: str
    headers: dict[str, str]  # lower-case names; a repeated header keeps the last value
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


class _Reject(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def plain(status: int, text: str | None = None) -> Response:
    """A short text response; the default text is the status phrase."""
    return Response(status, ((text or HTTPStatus(status).phrase) + "\n").encode())


def _encode(resp: Response, keep: bool) -> bytes:
    phrase = HTTPStatus(resp.status).phrase
    lines = [f"HTTP/1.1 {resp.status} {phrase}"]
    if resp.status != 204:
        lines += [f"Content-Type: {resp.content_type}", f"Content-Length: {len(resp.body)}"]
    lines += [f"{k}: {v}" for k, v in resp.headers.items()]
    lines.append("Connection: keep-alive" if keep else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if resp.status == 204 else head + resp.body


def _parse_head(raw: bytes) -> tuple[str, str, str, str, dict[str, str]]:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # latin-1 never fails; kept for clarity of intent
        raise _Reject(400) from None
    request_line, _, rest = text.partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/"):
        raise _Reject(400)
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _Reject(505 if version.startswith("HTTP/") else 400)
    headers: dict[str, str] = {}
    for line in rest.split("\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise _Reject(400)  # no obs-fold, no space before the colon
        key = name.lower()
        value = value.strip()
        if key == "content-length" and key in headers and headers[key] != value:
            raise _Reject(400)  # conflicting lengths: a request-smuggling shape
        headers[key] = value
    path, _, query = target.partition("?")
    return method, unquote(path), query, version, headers


class HttpServer:
    """``await server.start(host, port)``; ``server.port`` is the bound port (0 = any)."""

    def __init__(self, handler: Handler, limits: ServerLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits or ServerLimits()
        self.active = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, host, port, limit=self.limits.max_head + 4
        )

    async def close(self) -> None:
        """Stop accepting, close every open connection, wait for their handlers."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()  # a pending read ends, the connection task returns
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=self.limits.read_timeout)
            await self._server.wait_closed()
            self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self.active >= self.limits.max_connections:
            self.refused += 1
            with contextlib.suppress(Exception):
                writer.write(_encode(plain(503), keep=False))
                await writer.drain()
                await self._linger(reader, writer, 0.5)
            writer.close()
            return
        self.active += 1
        self._writers.add(writer)
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self.active -= 1
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limits = self.limits
        while True:
            try:
                async with asyncio.timeout(limits.read_timeout):
                    raw = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    await self._send(writer, plain(400), keep=False)
                return
            except asyncio.LimitOverrunError:
                await self._send(writer, plain(431), keep=False)
                return
            if len(raw) > limits.max_head:
                await self._send(writer, plain(431), keep=False)
                return
            try:
                method, path, query, version, headers = _parse_head(raw)
                body = await self._body(reader, writer, method, headers)
            except _Reject as rej:
                await self._send(writer, plain(rej.status), keep=False)
                if rej.status == 413:
                    await self._linger(reader, writer, 2.0)
                return
            conn = headers.get("connection", "").lower()
            keep = limits.keep_alive and (
                conn == "keep-alive" if version == "HTTP/1.0" else conn != "close"
            )
            try:
                resp = await self.handler(Request(method, path, query, headers, body))
            except Exception as exc:  # the handler's bug must not leak its text to a client
                log.error("http handler failed: %s", type(exc).__name__)
                resp = plain(500)
            await self._send(writer, resp, keep)
            if not keep:
                return

    async def _body(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        headers: dict[str, str],
    ) -> bytes:
        if "transfer-encoding" in headers:
            raise _Reject(411)  # chunked is not supported: ask for a length
        length_text = headers.get("content-length")
        if length_text is None:
            if method in ("POST", "PUT", "PATCH"):
                raise _Reject(411)
            return b""
        if not (length_text.isascii() and length_text.isdigit()):
            raise _Reject(400)
        length = int(length_text)
        if length > self.limits.max_body:
            raise _Reject(413)
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        async with asyncio.timeout(self.limits.read_timeout):
            return await reader.readexactly(length)

    async def _linger(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float
    ) -> None:
        """After an early answer, discard (never keep) what the client still sends for a moment:
        closing with unread data makes the kernel answer RST, and the client would see
        "connection reset" instead of our answer (413, or 503 when over the limit)."""
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
            async with asyncio.timeout(seconds):
                for _ in range(256):  # at most 16 MiB
                    if not await reader.read(65536):
                        break

    async def _send(self, writer: asyncio.StreamWriter, resp: Response, keep: bool) -> None:
        writer.write(_encode(resp, keep))
        async with asyncio.timeout(self.limits.read_timeout):
            await writer.drain()
