"""Rotation pools: the state of each (pool, ip) member and how checks move it (spec section 4).

Pure functions of (member, severity, config, now) -> (new member, actions). ``MemberState``
maps 1:1 onto the ``pool_member`` table.

* ``critical`` -> ``deprioritized``: weight = base_weight * deprioritize_factor.
* ``block`` -> ``removed``: weight 0. A removed member comes back only by :func:`restore`.
* A deprioritized member gets its base weight back (``recover``) after ``recover_checks``
  consecutive healthy checks. Only ``ok`` counts as healthy; a ``warning`` or worse check
  breaks the streak; an ``insufficient`` check (too little traffic to judge, common at a
  tenth of the weight) neither counts nor breaks it.
* ``warming`` members belong to their warmup plan: checks do not move them;
  :func:`complete_warmup` makes them active at full weight when the plan completes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from opsconsole.core.actions import Action, Numbers
from opsconsole.core.stats import Severity

MemberStatus = Literal["active", "deprioritized", "removed", "warming"]


@dataclass(frozen=True, slots=True)
class MemberState:
    pool: str
    ip: str
    base_weight: float = 100.0
    weight: float = 100.0
    state: MemberStatus = "active"
    daily_cap: int | None = None
    healthy_checks: int = 0
    state_reason: str = ""
    changed_at: float = 0.0


def _act(m: MemberState, name: str, reason: str, numbers: Numbers, actor: str) -> Action:
    nums: dict[str, float | int | str | None] = dict(numbers)
    nums.update(base_weight=m.base_weight, weight=m.weight)
    return Action(name, m.ip, m.pool, "", reason, nums, actor)


def evaluate_member(
    member: MemberState,
    severity: Severity,
    deprioritize_factor: float,
    recover_checks: int,
    now: float,
    *,
    reason: str = "",
    numbers: Numbers | None = None,
) -> tuple[MemberState, list[Action]]:
    """One check of one production member. ``reason``/``numbers`` describe the IP's window
    (the policy formats them). Returns the same object when nothing changed."""
    nums: Numbers = numbers or {}
    m = member
    if m.state in ("removed", "warming"):
        return m, []
    if severity >= Severity.BLOCK:
        why = f"removed: {reason}" if reason else "removed: block severity"
        m = replace(
            m, state="removed", weight=0.0, healthy_checks=0, state_reason=why, changed_at=now
        )
        return m, [_act(m, "remove", why, nums, "engine")]
    if severity == Severity.CRITICAL:
        if m.state == "active":
            why = f"deprioritized: {reason}" if reason else "deprioritized: critical severity"
            m = replace(
                m,
                state="deprioritized",
                weight=m.base_weight * deprioritize_factor,
                healthy_checks=0,
                state_reason=why,
                changed_at=now,
            )
            return m, [_act(m, "deprioritize", why, nums, "engine")]
        return (replace(m, healthy_checks=0) if m.healthy_checks else m), []
    if m.state != "deprioritized":
        return m, []
    if severity == Severity.WARNING:
        return (replace(m, healthy_checks=0) if m.healthy_checks else m), []
    if severity == Severity.OK:
        checks = m.healthy_checks + 1
        if checks >= recover_checks:
            why = f"recovered after {checks} healthy checks"
            why = f"{why}: {reason}" if reason else why
            m = replace(
                m,
                state="active",
                weight=m.base_weight,
                healthy_checks=0,
                state_reason=why,
                changed_at=now,
            )
            return m, [_act(m, "recover", why, nums, "engine")]
        return replace(m, healthy_checks=checks), []
    return m, []  # insufficient: neutral


# Operator commands. Each raises ValueError with the sentence to show the operator when the
# command makes no sense for the member's state.


def remove(
    member: MemberState, now: float, *, actor: str, reason: str = ""
) -> tuple[MemberState, list[Action]]:
    if member.state == "removed":
        raise ValueError(f"{member.ip} is already removed from pool {member.pool}")
    why = f"removed by {actor}" + (f": {reason}" if reason else "")
    m = replace(
        member, state="removed", weight=0.0, healthy_checks=0, state_reason=why, changed_at=now
    )
    return m, [_act(m, "remove", why, {"from": member.state}, actor)]


def restore(
    member: MemberState, now: float, *, actor: str, reason: str = ""
) -> tuple[MemberState, list[Action]]:
    """Removed or deprioritized -> active at base weight."""
    if member.state not in ("removed", "deprioritized"):
        raise ValueError(f"{member.ip} in pool {member.pool} is {member.state}, nothing to restore")
    why = f"restored by {actor}" + (f": {reason}" if reason else "")
    m = replace(
        member,
        state="active",
        weight=member.base_weight,
        healthy_checks=0,
        state_reason=why,
        changed_at=now,
    )
    return m, [_act(m, "restore", why, {"from": member.state}, actor)]


def set_weight(member: MemberState, weight: float, now: float, *, actor: str) -> MemberState:
    """A new base weight. The current weight follows the state: the new base when active or
    warming, the same fraction of it when deprioritized, 0 when removed. Not one of
    ``ACTION_NAMES``: audit it as the operator command."""
    if weight < 0:
        raise ValueError(f"weight must not be negative: {weight}")
    if member.state == "removed":
        current = 0.0
    elif member.state == "deprioritized":
        frac = member.weight / member.base_weight if member.base_weight else 0.0
        current = weight * frac
    else:
        current = weight
    return replace(
        member,
        base_weight=weight,
        weight=current,
        state_reason=f"weight set to {weight:g} by {actor}",
        changed_at=now,
    )


def start_warming(member: MemberState, now: float, *, reason: str = "") -> MemberState:
    """The member's IP starts a warmup plan: its traffic follows the plan's quota."""
    why = reason or "warmup started"
    return replace(
        member,
        state="warming",
        weight=member.base_weight,
        healthy_checks=0,
        state_reason=why,
        changed_at=now,
    )


def complete_warmup(member: MemberState, now: float) -> MemberState:
    """The plan completed: warming -> active at full (base) weight. Others are unchanged."""
    if member.state != "warming":
        return member
    return replace(
        member,
        state="active",
        weight=member.base_weight,
        healthy_checks=0,
        state_reason="warmup completed",
        changed_at=now,
    )


def pool_capacity(members: Iterable[MemberState], warmup_quota_by_ip: Mapping[str, int]) -> int:
    """Messages per day a pool can take: warming members their warmup quota (0 when absent
    from ``warmup_quota_by_ip``, see ``warmup.warmup_quotas``), active and deprioritized
    members their ``daily_cap``, removed members 0. A member without a cap adds 0: see
    :func:`uncapped` to tell "no capacity" from "no configured cap"."""
    total = 0
    for m in members:
        if m.state == "warming":
            total += warmup_quota_by_ip.get(m.ip, 0)
        elif m.state in ("active", "deprioritized"):
            total += m.daily_cap or 0
    return total


def uncapped(members: Iterable[MemberState]) -> list[str]:
    """IPs of active or deprioritized members with no configured daily cap."""
    return [m.ip for m in members if m.state in ("active", "deprioritized") and m.daily_cap is None]


__all__ = [
    "MemberState",
    "MemberStatus",
    "complete_warmup",
    "evaluate_member",
    "pool_capacity",
    "remove",
    "restore",
    "set_weight",
    "start_warming",
    "uncapped",
]
