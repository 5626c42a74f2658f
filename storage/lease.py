"""The engine lease: one acting engine per database, fenced by an epoch.

Acquire and renew are one conditional UPDATE, atomic on SQLite and PostgreSQL alike: the
row changes hands only when its holder is us or its lease has expired, and each change of
hands adds one to ``epoch``. Every write of a check first re-asserts (holder, epoch, not
expired) with an UPDATE of the same row inside its own transaction (:func:`fence`): on
SQLite that takes the write lock, on PostgreSQL it locks the row, so a takeover and a stale
leader's commit are serialised and the stale one commits nothing.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.ports import Fence, LeaseLost
from opsconsole.storage.reads import ENGINE_LEASE

_RENEW = text(
    "UPDATE lease SET"
    " epoch = CASE WHEN holder = :holder THEN epoch ELSE epoch + 1 END,"
    " acquired_at = CASE WHEN holder = :holder THEN acquired_at ELSE :now END,"
    " holder = :holder, host = :host, pid = :pid, heartbeat_at = :now,"
    " expires_at = :expires, check_interval = :interval"
    " WHERE name = :name AND (holder = :holder OR expires_at < :now)"
)
_INSERT = text(
    "INSERT INTO lease (name, holder, host, pid, acquired_at, heartbeat_at, expires_at,"
    " check_interval, events_per_s, epoch) VALUES (:name, :holder, :host, :pid, :now, :now,"
    " :expires, :interval, 0, 1) ON CONFLICT (name) DO NOTHING"
)
_EPOCH = text("SELECT epoch FROM lease WHERE name = :name AND holder = :holder")
_FENCE = text(
    "UPDATE lease SET heartbeat_at = heartbeat_at"
    " WHERE name = :name AND holder = :holder AND epoch = :epoch AND expires_at >= :now"
)


async def acquire_or_renew(
    engine: AsyncEngine,
    holder: str,
    host: str,
    pid: int,
    now: float,
    ttl: float,
    check_interval: float,
) -> int | None:
    """The epoch ``holder`` holds the lease in until ``now + ttl``; None when another
    engine holds it."""
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
        held = (await conn.execute(_RENEW, params)).rowcount == 1
        if not held:
            held = (await conn.execute(_INSERT, params)).rowcount == 1
        if not held:
            return None
        epoch = (await conn.execute(_EPOCH, params)).scalar()
        return int(epoch or 0)


async def fence(conn: AsyncConnection, f: Fence) -> None:
    """Inside the caller's transaction: go on only while ``f`` still holds the lease (at the
    time of the write: a long check's start time would hide an expiry)."""
    params = {"name": ENGINE_LEASE, "holder": f.holder, "epoch": f.epoch, "now": f.clock()}
    if (await conn.execute(_FENCE, params)).rowcount != 1:
        raise LeaseLost(f"lease epoch {f.epoch} of {f.holder} is no longer current")


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
