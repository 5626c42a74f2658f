"""The bounded HTTP server over raw sockets on 127.0.0.1: limits and keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from opsconsole.core.httpserve import HttpServer, Request, Response, ServerLimits


async def echo(req: Request) -> Response:
    if req.path == "/boom":
        raise RuntimeError("secret-token-123")
    return Response(200, f"{req.method} {req.path} {len(req.body)}".encode())


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    srv = HttpServer(echo, ServerLimits(max_connections=3, read_timeout=0.5, max_body=1000))
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close()


async def exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    out = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return out


def status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


async def test_keep_alive_serves_two_requests_on_one_connection(server: HttpServer) -> None:
    two = (
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    raw = await exchange(server.port, two)
    assert raw.count(b"HTTP/1.1 200 OK") == 2
    assert raw.endswith(b"GET /b 0") and b"POST /a 3" in raw


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"POST /a HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        (b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"POST /a HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413),
        (b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"GET /a HTTP/1.1\r\nX: " + b"a" * 17000 + b"\r\n\r\n", 431),
        (b"HELLO\r\n\r\n", 400),
        (b"GET /a HTTP/2.0\r\n\r\n", 505),
        (b"GET /boom HTTP/1.1\r\n\r\n", 500),
    ],
)
async def test_limits_and_errors(server: HttpServer, request_bytes: bytes, code: int) -> None:
    raw = await exchange(server.port, request_bytes)
    assert status(raw) == code
    assert b"secret-token-123" not in raw


async def test_excess_connections_refused_and_idle_ones_dropped(server: HttpServer) -> None:
    conns = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
    while server.active < 3:
        await asyncio.sleep(0.01)
    assert status(await exchange(server.port, b"GET / HTTP/1.1\r\n\r\n")) == 503
    assert server.refused == 1
    for reader, _ in conns:  # idle past read_timeout: closed without a response
        assert await asyncio.wait_for(reader.read(), 5) == b""
    for _, writer in conns:
        writer.close()
    assert status(await exchange(server.port, b"GET / HTTP/1.1\r\n\r\n")) == 200
