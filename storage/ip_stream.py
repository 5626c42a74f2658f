"""Window counters read in chunks from a server-side cursor (issue 18.9, cardinality).

A million distinct IPs in a window (a hostile file, a huge fleet) must not become a
million-entry dict in one process: the report streams its rows in the report's own order
(worst bounce rate first, the database sorting), the check walks the IPs in address order
a chunk at a time, and the fleet's hosts are read for one chunk of IPs at a time.

Orders match Python's exactly: the bounce rate is the same IEEE division
(``bounced / (delivered + bounced)`` in double precision), and text sorts by code point
(``COLLATE "C"`` on PostgreSQL; SQLite's default BINARY collation is byte order, which is
code-point order for UTF-8).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.stats import WindowStats

KeyRow = tuple[str, str, WindowStats]  # (ip, subuser, its counters)
CHUNK = 2000

_SUMS = (
    "sum(delivered) AS d, sum(bounced) AS b, sum(hard) AS h, sum(soft) AS s,"
    " sum(deferred) AS df, sum(complaints) AS c"
)


def _collate(engine: AsyncEngine) -> str:
    return ' COLLATE "C"' if engine.dialect.name == "postgresql" else ""


def _by_rate_sql(engine: AsyncEngine) -> str:
    c = _collate(engine)
    return (
        f"WITH k AS (SELECT ip, subuser, {_SUMS} FROM bucket"
        " WHERE minute >= :lo AND minute < :hi AND ip != '' GROUP BY ip, subuser),"
        " t AS (SELECT ip, sum(d) + sum(b) AS sent, sum(b) AS bounced FROM k GROUP BY ip)"
        " SELECT k.ip, k.subuser, k.d, k.b, k.h, k.s, k.df, k.c FROM k JOIN t ON t.ip = k.ip"
        " ORDER BY CASE WHEN t.sent > 0 THEN CAST(t.bounced AS DOUBLE PRECISION) / t.sent"
        f" ELSE -1.0 END DESC, t.sent DESC, k.ip{c}, k.subuser{c}"
    )


def _by_ip_sql(engine: AsyncEngine) -> str:
    c = _collate(engine)
    return (
        f"SELECT ip, subuser, {_SUMS} FROM bucket WHERE minute >= :lo AND minute < :hi"
        f" AND ip != '' GROUP BY ip, subuser ORDER BY ip{c}, subuser{c}"
    )


def _stats(r: Sequence[Any]) -> WindowStats:
    return WindowStats(*(int(v or 0) for v in r[2:8]))


async def _ip_chunks(
    engine: AsyncEngine, sql: str, lo: int, hi: int, chunk: int
) -> AsyncGenerator[list[Any], None]:
    """The rows of ``sql`` (ordered so that an IP's rows are adjacent, the IP first) as
    lists holding about ``chunk`` IPs each; an IP's rows never straddle two lists."""
    out: list[Any] = []
    n_ips = 0
    last = None
    async with engine.connect() as conn:
        result = await conn.stream(text(sql), {"lo": lo, "hi": hi})
        async for part in result.partitions(1000):
            for r in part:
                if r[0] != last:
                    if n_ips >= chunk:
                        yield out
                        out, n_ips = [], 0
                    n_ips += 1
                    last = r[0]
                out.append(r)
    if out:
        yield out


async def key_chunks(
    engine: AsyncEngine, lo: int, hi: int, order: str = "rate", chunk: int = CHUNK
) -> AsyncGenerator[list[KeyRow], None]:
    """The window's (ip, subuser) counters, attributed IPs only, as lists of about
    ``chunk`` IPs; an IP's keys never straddle two chunks. ``order``: ``rate`` (the
    report's: worst bounce rate, then most sent, then address) or ``ip`` (address)."""
    sql = _by_rate_sql(engine) if order == "rate" else _by_ip_sql(engine)
    rows_of = _ip_chunks(engine, sql, lo, hi, chunk)
    async with contextlib.aclosing(rows_of):  # closed with this stream, not by the GC
        async for rows in rows_of:
            yield [(str(r[0]), str(r[1]), _stats(r)) for r in rows]


async def provider_chunks(
    engine: AsyncEngine, lo: int, hi: int, chunk: int = CHUNK, known_only: bool = True
) -> AsyncIterator[dict[tuple[str, str, str], WindowStats]]:
    """The window's (ip, subuser, provider) counters (attributed; a known provider unless
    ``known_only`` is False), by ip, subuser, provider, about ``chunk`` IPs at a time (an IP
    never straddles two)."""
    c = _collate(engine)
    known = " AND provider != ''" if known_only else ""
    sql = (
        f"SELECT ip, subuser, provider, {_SUMS} FROM bucket WHERE minute >= :lo"
        f" AND minute < :hi AND ip != ''{known} GROUP BY ip, subuser, provider"
        f" ORDER BY ip{c}, subuser{c}, provider{c}"
    )
    rows_of = _ip_chunks(engine, sql, lo, hi, chunk)
    async with contextlib.aclosing(rows_of):
        async for rows in rows_of:
            yield {
                (str(r[0]), str(r[1]), str(r[2])): WindowStats(*(int(v or 0) for v in r[3:9]))
                for r in rows
            }


async def unattributed_stats(engine: AsyncEngine, lo: int, hi: int) -> WindowStats:
    sql = f"SELECT '', '', {_SUMS} FROM bucket WHERE minute >= :lo AND minute < :hi AND ip = ''"
    async with engine.connect() as conn:
        row = (await conn.execute(text(sql), {"lo": lo, "hi": hi})).first()
    return _stats(row) if row else WindowStats()


async def ip_hosts_of(engine: AsyncEngine, ips: Sequence[str]) -> dict[str, list[str]]:
    """IP -> the hosts that read it, most recent first, for these IPs only."""
    out: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for i in range(0, len(ips), 500):
            part = list(ips[i : i + 500])
            names = ", ".join(f":p{j}" for j in range(len(part)))
            rows = await conn.execute(
                text(
                    f"SELECT ip, host FROM ip_host WHERE ip IN ({names})"
                    " ORDER BY ip, last_seen DESC, host"
                ),
                {f"p{j}": ip for j, ip in enumerate(part)},
            )
            for ip, host in rows.all():
                out.setdefault(str(ip), []).append(str(host))
    return out


class StreamReads:
    """The chunked reads, mixed into ``SqlStore``: ``core.ports.CheckStore.key_chunks`` and
    the streamed report's."""

    engine: AsyncEngine

    def key_chunks(
        self, lo: int, hi: int, order: str = "rate", chunk: int = CHUNK
    ) -> AsyncGenerator[list[KeyRow], None]:
        return key_chunks(self.engine, lo, hi, order, chunk)

    async def unattributed_stats(self, lo: int, hi: int) -> WindowStats:
        return await unattributed_stats(self.engine, lo, hi)

    def provider_chunks(
        self, lo: int, hi: int, chunk: int = CHUNK, known_only: bool = True
    ) -> AsyncIterator[dict[tuple[str, str, str], WindowStats]]:
        return provider_chunks(self.engine, lo, hi, chunk, known_only)

    async def ip_hosts_of(self, ips: Sequence[str]) -> dict[str, list[str]]:
        return await ip_hosts_of(self.engine, ips)
