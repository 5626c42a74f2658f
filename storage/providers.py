"""Per-provider reads and writes: bucket counters by provider, provider suspensions and
block-signature hits (tables of storage/migrations/v007_providers.py)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.provider_policy import Suspension
from opsconsole.core.stats import WindowStats, summed
from opsconsole.storage.sql import executemany, placeholders

_SUMS = "sum(delivered), sum(bounced), sum(hard), sum(soft), sum(deferred), sum(complaints)"


def _ws(values: Iterable[object]) -> WindowStats:
    return WindowStats(*(int(v or 0) for v in values))  # type: ignore[call-overload]


class ProviderStore:
    """The provider dimension over the engine's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def key_stats(
        self, lo: int, hi: int, ip: str | None = None
    ) -> dict[tuple[str, str, str], WindowStats]:
        """Counters per (ip, subuser, provider) over bucket minutes [lo, hi)."""
        sql = (
            f"SELECT ip, subuser, provider, {_SUMS} FROM bucket"
            " WHERE minute >= :lo AND minute < :hi"
        )
        params: dict[str, object] = {"lo": lo, "hi": hi}
        if ip is not None:
            sql += " AND ip = :ip"
            params["ip"] = ip
        sql += " GROUP BY ip, subuser, provider"
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(sql), params)).all()
        return {(r[0], r[1], r[2]): _ws(r[3:]) for r in rows}

    async def ip_stats(self, lo: int, hi: int) -> dict[tuple[str, str], WindowStats]:
        """Counters per (ip, provider), summed over subusers: what the policy judges."""
        return summed(await self.key_stats(lo, hi), lambda k: (k[0], k[2]))

    async def suspensions(self) -> dict[tuple[str, str], Suspension]:
        sql = text(
            "SELECT ip, provider, until, reason, alert_key, created_at FROM provider_suspension"
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sql)).all()
        return {(r[0], r[1]): Suspension(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows}

    async def signature_hits(self, lo: int, hi: int) -> dict[tuple[str, str, str], int]:
        """Matches per (ip, provider, signature) over minutes [lo, hi)."""
        sql = text(
            "SELECT ip, provider, signature, sum(hits) FROM signature_hit"
            " WHERE minute >= :lo AND minute < :hi GROUP BY ip, provider, signature"
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sql, {"lo": lo, "hi": hi})).all()
        return {(r[0], r[1], r[2]): int(r[3] or 0) for r in rows}


async def write_changes(
    conn: AsyncConnection, suspend: Iterable[Suspension], resumed: Iterable[tuple[str, str]]
) -> None:
    """Inside the check's transaction (with the audit entries of the same actions)."""
    gone = list(resumed)
    if gone:
        marks = placeholders(conn, 2)
        a, b = marks.split(", ")
        await executemany(
            conn, f"DELETE FROM provider_suspension WHERE ip = {a} AND provider = {b}", gone
        )
    rows = [(s.ip, s.provider, s.until, s.reason, s.alert_key, s.created_at) for s in suspend]
    if rows:
        await executemany(
            conn,
            "INSERT INTO provider_suspension (ip, provider, until, reason, alert_key, created_at)"
            f" VALUES ({placeholders(conn, 6)}) ON CONFLICT (ip, provider) DO UPDATE SET"
            " until = excluded.until, reason = excluded.reason, alert_key = excluded.alert_key,"
            " created_at = excluded.created_at",
            rows,
        )
