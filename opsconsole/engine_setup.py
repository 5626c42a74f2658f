"""Bring the database in line with the config at engine start: pools and members from
``[[pools]]``, warmup plans from ``[[warmups]]`` (created only if missing). Existing runtime
state (a removed member, a paused plan) is never overwritten by the config."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core import rotation, warmup
from opsconsole.core.rotation import MemberState
from opsconsole.settings import Settings
from opsconsole.storage import audit
from opsconsole.storage.db import serialized_begin
from opsconsole.storage.engine_state import MEMBERS, PLANS, to_row, upsert
from opsconsole.storage.tables import Pool


async def apply_config(engine: AsyncEngine, settings: Settings, now: float) -> list[str]:
    """Create what the config declares and the database lacks; return what was created."""
    created: list[str] = []
    schedules = warmup.schedules_from(settings.warmup)
    pools = Pool.__table__
    async with serialized_begin(engine) as conn:  # engines starting at once: one at a time
        have_pools = {r[0] for r in await conn.execute(select(pools.c.name))}
        have_members = {
            (r[0], r[1]) for r in await conn.execute(select(MEMBERS.c.pool, MEMBERS.c.ip))
        }
        have_plans = {r[0] for r in await conn.execute(select(PLANS.c.ip))}
        for p in settings.pools:
            if p.name not in have_pools:
                await conn.execute(pools.insert().values(name=p.name, created_at=now))
                have_pools.add(p.name)
            for m in p.members:
                if (p.name, m.ip) in have_members:
                    continue
                member = MemberState(p.name, m.ip, m.weight, m.weight, "active", m.daily_cap,
                                     state_reason="from config", changed_at=now)  # fmt: skip
                await upsert(conn, MEMBERS, to_row(member))
                have_members.add((p.name, m.ip))
                created.append(f"pool {p.name}: {m.ip}")
        for w in settings.warmups:
            if w.ip in have_plans:
                continue
            name = w.schedule or settings.warmup.default_schedule
            if name not in schedules:
                from opsconsole.settings import ConfigError

                raise ConfigError(f"warmups: {w.ip}: unknown schedule {name!r}")
            plan = warmup.start_plan(w.ip, schedules[name], w.pool, now)
            await upsert(conn, PLANS, to_row(plan))
            if w.pool:
                if w.pool not in have_pools:
                    await conn.execute(pools.insert().values(name=w.pool, created_at=now))
                    have_pools.add(w.pool)
                member = MemberState(w.pool, w.ip, changed_at=now)
                await upsert(conn, MEMBERS, to_row(rotation.start_warming(member, now)))
            await audit.record(
                conn, at=now, actor="config", action="start_warmup", ip=w.ip, pool=w.pool or "",
                reason=f"declared in config ({name})",
            )  # fmt: skip
            created.append(f"warmup {w.ip} ({name})")
    return created
