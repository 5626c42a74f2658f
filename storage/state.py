"""Reads of the engine-owned tables (lease, pools, warmups, alerts) as plain dicts."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.storage.tables import Alert, Lease, PoolMember, WarmupPlan

ENGINE_LEASE = "engine"


async def read_lease(engine: AsyncEngine) -> dict[str, Any] | None:
    t = Lease.__table__
    async with engine.connect() as conn:
        row = (await conn.execute(select(t).where(t.c.name == ENGINE_LEASE))).mappings().first()
    return dict(row) if row else None


async def read_members(engine: AsyncEngine) -> list[dict[str, Any]]:
    t = PoolMember.__table__
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).order_by(t.c.pool, t.c.ip))).mappings().all()
    return [dict(r) for r in rows]


async def read_plans(engine: AsyncEngine) -> list[dict[str, Any]]:
    t = WarmupPlan.__table__
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).order_by(t.c.ip))).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d["daily_quotas"] = json.loads(d["daily_quotas"] or "[]")
        out.append(d)
    return out


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
