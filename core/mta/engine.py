"""The engine's side of the adapters: desired state from the pool members, one apply.

``pool_views`` is pure: the members' rotation state (the database) plus each member's MTA
handle (``[[pools]] members``: transport / vmta / source). :class:`MtaApplier` is what the
journal runner calls for an MTA row: it records what the MTA had before opsconsole's first
write (``mta release`` puts that back), reads the MTA's state, plans from desired state (so a
retried or repeated row is harmless), applies with rollback, and returns the audit detail:
every step with its exit code and duration. When the empty-pool guard fires the plan keeps
the pool's last member and ``on_guard`` raises a critical alert.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from opsconsole.core.config import PoolConfig
from opsconsole.core.mta import MtaConfig, build_adapter
from opsconsole.core.mta.apply import ApplyResult, Runner, apply, outcome_json
from opsconsole.core.mta.base import Adapter, MemberView, Plan, PoolView
from opsconsole.core.rotation import MemberState


def pool_views(pools: Sequence[PoolConfig], members: Sequence[MemberState]) -> list[PoolView]:
    """Each configured pool with its members as the engine wants them now."""
    by_key = {(m.pool, m.ip): m for m in members}
    out = []
    for p in pools:
        views = []
        for mc in p.members:
            st = by_key.get((p.name, mc.ip))
            state = st.state if st is not None else "active"
            weight = st.weight if st is not None else mc.weight
            base = st.base_weight if st is not None else mc.weight
            views.append(MemberView(mc.ip, weight, state, mc.transport, mc.vmta, mc.source, base))
        out.append(PoolView(p.name, tuple(views)))
    return out


class OriginalStore(Protocol):
    async def original(self, kind: str) -> dict[str, Any] | None: ...

    async def save_original(self, kind: str, value: Any, now: float) -> bool: ...


MembersOf = Callable[[float], Awaitable[Sequence[MemberState]]]
OnGuard = Callable[[Sequence[str], float], Awaitable[None]]


class MtaApplier:
    def __init__(
        self,
        config: MtaConfig,
        pools: Sequence[PoolConfig],
        members: MembersOf,
        originals: OriginalStore,
        runner: Runner,
        clock: Callable[[], float],
        on_guard: OnGuard | None = None,
    ) -> None:
        self.config = config
        self.pools = list(pools)
        self.members = members
        self.originals = originals
        self.runner = runner
        self.clock = clock
        self.on_guard = on_guard
        self.adapter: Adapter = build_adapter(config, runner)

    async def plan(self) -> tuple[Plan, list[PoolView]]:
        desired = pool_views(self.pools, await self.members(self.clock()))
        current = await self.adapter.read_state()
        return self.adapter.plan_pools(desired, current), desired

    async def __call__(self, reason: str) -> tuple[bool, str | None, dict[str, Any]]:
        now = self.clock()
        if await self.originals.original(self.config.kind) is None:
            try:
                found = await self.adapter.capture_original()
            except Exception as e:  # cannot read what is there: write nothing
                return False, f"cannot record the MTA's original values: {e}", {}
            await self.originals.save_original(self.config.kind, found, now)
        plan, _desired = await self.plan()
        if plan.empty_pool_guard and self.on_guard is not None:
            await self.on_guard(plan.empty_pool_guard, now)
        result = await apply(plan.steps, self.runner) if plan.steps else ApplyResult(True)
        detail: dict[str, Any] = json.loads(outcome_json(result))
        detail.update(
            kind=self.config.kind,
            reason=reason,
            plan=plan.describe(),
            guard=list(plan.empty_pool_guard),
        )
        return result.ok, result.error, detail
