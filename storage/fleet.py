"""The fleet's rows (issue 13.4): which host read which IP (``ip_host``) and every engine's
heartbeat (``engine_heartbeat``); each host's sources are its own ``ingest_counter`` rows
(keyed by host and source, v023).

``ip_host`` is upserted inside the batch's own transaction (:func:`record_batch_hosts`), so
it is exactly as committed as the buckets it describes. Tables: migration v011.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.storage.sql import executemany, placeholders

# Heartbeat rows older than this are pruned (a host gone for a week is no longer "stale").
HEARTBEAT_KEEP = 7 * 86400.0


async def record_batch_hosts(
    conn: AsyncConnection,
    host: str,
    source: str,
    ips: Iterable[tuple[str, float]],
    now: float,
) -> None:
    """Inside the batch's transaction: ``host``, reading ``source``, saw each ``(ip, last
    event minute)``."""
    rows = [(ip, host, source, seen, seen) for ip, seen in ips if ip]
    if not rows:
        return
    sql = (
        f"INSERT INTO ip_host (ip, host, source, first_seen, last_seen) VALUES"
        f" ({placeholders(conn, 5)}) ON CONFLICT (ip, host) DO UPDATE SET"
        " source = excluded.source,"
        " first_seen = CASE WHEN excluded.first_seen < ip_host.first_seen"
        " THEN excluded.first_seen ELSE ip_host.first_seen END,"
        " last_seen = CASE WHEN excluded.last_seen > ip_host.last_seen"
        " THEN excluded.last_seen ELSE ip_host.last_seen END"
    )
    await executemany(conn, sql, sorted(rows))  # sorted: a fixed lock order across hosts


class FleetStore:
    """Reads and the heartbeat write of the fleet tables, over one AsyncEngine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def heartbeat(self, holder: str, host: str, role: str, pid: int, now: float) -> None:
        async with self.engine.begin() as conn:
            res = await conn.execute(
                text(
                    "UPDATE engine_heartbeat SET host = :host, role = :role, pid = :pid,"
                    " seen_at = :now WHERE holder = :holder"
                ),
                {"holder": holder, "host": host, "role": role, "pid": pid, "now": now},
            )
            if res.rowcount == 0:
                await conn.execute(
                    text(
                        "INSERT INTO engine_heartbeat (holder, host, role, pid, started_at,"
                        " seen_at) VALUES (:holder, :host, :role, :pid, :now, :now)"
                        " ON CONFLICT (holder) DO NOTHING"
                    ),
                    {"holder": holder, "host": host, "role": role, "pid": pid, "now": now},
                )
                await conn.execute(
                    text("DELETE FROM engine_heartbeat WHERE seen_at < :old"),
                    {"old": now - HEARTBEAT_KEEP},
                )

    async def stopped(self, holder: str, now: float) -> None:
        """A clean exit: the row says so at once (no waiting for it to go stale)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE engine_heartbeat SET role = 'stopped', seen_at = :now"
                     " WHERE holder = :holder"),
                {"holder": holder, "now": now},
            )  # fmt: skip

    async def heartbeats(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT holder, host, role, pid, started_at, seen_at FROM engine_heartbeat"
                    " ORDER BY host, seen_at DESC"
                )
            )
            return [dict(r) for r in rows.mappings().all()]

    async def ip_hosts(self) -> dict[str, list[str]]:
        """IP -> the hosts that read it, most recent first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT ip, host FROM ip_host ORDER BY ip, last_seen DESC, host")
            )
            out: dict[str, list[str]] = {}
            for ip, host in rows.all():
                out.setdefault(str(ip), []).append(str(host))
            return out

    async def host_activity(self) -> list[dict[str, Any]]:
        """Per host: its IP count and the newest event minute it committed."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT host, count(*) AS ips, max(last_seen) AS last_event_at"
                    " FROM ip_host GROUP BY host ORDER BY host"
                )
            )
            return [dict(r) for r in rows.mappings().all()]
