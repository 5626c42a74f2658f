"""Bring the database in line with the config at engine start: pools and members from
``[[pools]]``, warmup plans from ``[[warmups]]`` (created only if missing). Existing runtime
state (a removed member, a paused plan) is never overwritten by the config."""

from __future__ import annotations

from opsconsole.core import rotation, warmup
from opsconsole.core.config import EngineConfig
from opsconsole.core.errors import UsageError
from opsconsole.core.ports import AuditEntry, Changes, ControlStore
from opsconsole.core.rotation import MemberState


async def apply_config(store: ControlStore, config: EngineConfig, now: float) -> list[str]:
    """Create what the config declares and the database lacks; return what was created."""
    created: list[str] = []
    schedules = warmup.schedules_from(config.warmup)
    async with store.transaction() as tx:
        for p in config.pools:
            await tx.ensure_pool(p.name, now)
            for m in p.members:
                if await tx.member(p.name, m.ip) is not None:
                    continue
                member = MemberState(p.name, m.ip, m.weight, m.weight, "active", m.daily_cap,
                                     state_reason="from config", changed_at=now)  # fmt: skip
                await tx.write(Changes(members=[member]), now)
                created.append(f"pool {p.name}: {m.ip}")
        for w in config.warmups:
            if await tx.plan(w.ip) is not None:
                continue
            name = w.schedule or config.warmup.default_schedule
            if name not in schedules:
                raise UsageError(f"warmups: {w.ip}: unknown schedule {name!r}")
            changes = Changes(plans=[warmup.start_plan(w.ip, schedules[name], w.pool, now)])
            if w.pool:
                await tx.ensure_pool(w.pool, now)
                member = MemberState(w.pool, w.ip, changed_at=now)
                changes.members.append(rotation.start_warming(member, now))
            changes.audits.append(
                AuditEntry(
                    "config",
                    "start_warmup",
                    ip=w.ip,
                    pool=w.pool or "",
                    reason=f"declared in config ({name})",
                )
            )
            await tx.write(changes, now)
            created.append(f"warmup {w.ip} ({name})")
    return created
