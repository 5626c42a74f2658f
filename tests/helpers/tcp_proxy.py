"""A loopback TCP proxy that can partition its clients from the server, for failover tests.

``TcpProxy(target_port).start()`` listens on 127.0.0.1:<free port> in a thread of its own
and forwards every connection to 127.0.0.1:<target_port>. ``cut()`` is a network
partition as the client sees it: every open connection is reset and new ones are closed
at once, until ``heal()``. Only bytes between two loopback sockets; nothing is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cut_off = False
        self.accepted = 0
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._on_client, sock=sock)

    async def _on_client(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        if self.cut_off:
            self.refused += 1
            _reset(cw)
            return
        self.accepted += 1
        try:
            sr, sw = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(cw)
            return
        self._writers |= {cw, sw}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            _reset(w)

        await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
        self._writers -= {cw, sw}

    def cut(self) -> None:
        """Partition: reset every connection now and refuse new ones."""

        def go() -> None:
            self.cut_off = True
            for w in list(self._writers):
                _reset(w)

        self._loop.call_soon_threadsafe(go)

    def heal(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "cut_off", False)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                _reset(w)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _reset(w: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dropped route or a killed middlebox would."""
    sock = w.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        w.close()
