"""Reads of the engine-owned tables (lease, pools, warmups, alerts) as plain dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.rotation import MemberState
from opsconsole.core.warmup import PlanState
from opsconsole.storage import engine_state
from opsconsole.storage.tables import Alert, Lease

ENGINE_LEASE = "engine"


async def read_lease(engine: AsyncEngine) -> dict[str, Any] | None:
    t = Lease.__table__
    async with engine.connect() as conn:
        row = (await conn.execute(select(t).where(t.c.name == ENGINE_LEASE))).mappings().first()
    return dict(row) if row else None


async def read_members(engine: AsyncEngine) -> list[MemberState]:
    async with engine.connect() as conn:
        return await engine_state.load_members(conn)


async def read_plans(engine: AsyncEngine) -> list[PlanState]:
    async with engine.connect() as conn:
        return await engine_state.load_plans(conn)


async def read_alerts(
    engine: AsyncEngine, state: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Alerts newest first; ``state`` filters (firing, acknowledged, resolved); None = all."""
    t = Alert.__table__
    q = select(t).order_by(t.c.opened_at.desc()).limit(limit)
    if state is not None:
        q = q.where(t.c.state == state)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings().all()]
