"""The engine lease: one acting engine per database.

Acquire and renew are one conditional UPDATE, atomic on SQLite and PostgreSQL alike: the
row changes hands only when its holder is us or its lease has expired.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.storage.reads import ENGINE_LEASE

_RENEW = text(
    "UPDATE lease SET"
    " acquired_at = CASE WHEN holder = :holder THEN acquired_at ELSE :now END,"
    " holder = :holder, host = :host, pid = :pid, heartbeat_at = :now,"
    " expires_at = :expires, check_interval = :interval"
    " WHERE name = :name AND (holder = :holder OR expires_at < :now)"
)
_INSERT = text(
    "INSERT INTO lease (name, holder, host, pid, acquired_at, heartbeat_at, expires_at,"
    " check_interval, events_per_s) VALUES (:name, :holder, :host, :pid, :now, :now, :expires,"
    " :interval, 0) ON CONFLICT (name) DO NOTHING"
)


async def acquire_or_renew(
    engine: AsyncEngine,
    holder: str,
    host: str,
    pid: int,
    now: float,
    ttl: float,
    check_interval: float,
) -> bool:
    """True when ``holder`` holds the lease until ``now + ttl``."""
    params = {
        "name": ENGINE_LEASE,
        "holder": holder,
        "host": host,
        "pid": pid,
        "now": now,
        "expires": now + ttl,
        "interval": check_interval,
    }
    async with engine.begin() as conn:
        if (await conn.execute(_RENEW, params)).rowcount == 1:
            return True
        return (await conn.execute(_INSERT, params)).rowcount == 1


async def record_check(engine: AsyncEngine, holder: str, at: float, events_per_s: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE lease SET last_check_at = :at, events_per_s = :eps"
                " WHERE name = :name AND holder = :holder"
            ),
            {"at": at, "eps": events_per_s, "name": ENGINE_LEASE, "holder": holder},
        )


async def release(engine: AsyncEngine, holder: str, now: float) -> None:
    """Give the lease up at a clean exit so a follower takes over at once."""
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE lease SET expires_at = :now WHERE name = :name AND holder = :holder"),
            {"now": now, "name": ENGINE_LEASE, "holder": holder},
        )
