"""Warmup plans: where a new IP stands in its schedule, and how it moves (spec section 4).

Pure functions of (plan, stats, severity, thresholds, now) -> (new plan, actions). No clock,
no I/O: the engine feeds them and stores the result (``PlanState`` maps 1:1 onto the
``warmup_plan`` table; ``daily_quotas`` is a tuple here and JSON there).

How a plan moves
----------------
* Days are a fixed 24 h grid from ``started_at``: a day boundary moves ``day_started_at`` by
  exactly one day, so an engine that ticks late (or was down) does not drift the schedule.
  ``day`` counts days within the current stage.
* At the end of a stage (the boundary after its last day) the plan moves to the next stage
  only when the *stage gate* passes: the stage's bounce rate < ``warning`` and complaint rate
  < ``complaint_warning``, over at least ``min_sample`` sent. Otherwise it is ``held`` and the
  stage is extended by one day; ``day`` then goes past the stage length (day 9 of a 7-day
  stage = two days overdue) and the gate is tried again at the next boundary.
* ``stage_stats`` given to :func:`tick` are the IP's counters from :func:`stage_window_start`
  to now: the whole stage while it runs, and the last ``stage_days`` days once it is overdue
  (the oldest day drops out each extra day, so one bad day cannot hold a plan forever).
* At most one stage change per tick, so each stage's gate sees that stage's own numbers even
  when the engine catches up after downtime.
* ``severity`` (the IP's severity in the monitoring window) overrides: ``block`` pauses the
  plan, ``critical`` holds it (days still count, the stage cannot advance). A hold caused by
  severity is released (``resume_warmup``) at the first ``ok`` check; a hold caused by the
  stage gate is released by the gate passing at a later boundary (``advance_warmup``).
* ``paused`` moves only by an operator :func:`resume`, or by ``auto_resume_after`` elapsed with
  the IP not breaching (``ok`` or ``insufficient``: a paused IP usually sends nothing, so
  requiring ``ok`` would make auto-resume never fire). Resuming restarts the current stage at
  day 0: the stage's earlier data is what paused it.
* After the last stage the plan is ``completed`` and emits ``complete_warmup``: the pool then
  makes the IP ``active`` at full weight (see ``rotation.complete_warmup``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from opsconsole.core.actions import Action, Numbers
from opsconsole.core.durations import format_duration
from opsconsole.core.stats import (
    Severity,
    Thresholds,
    WindowStats,
    bounce_severity,
    complaint_severity,
)

if TYPE_CHECKING:
    from opsconsole.core.config import WarmupConfig

DAY = 86400.0

PlanStatus = Literal["warming", "held", "paused", "completed"]


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    stage_days: int
    daily_quotas: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.stage_days < 1:
            raise ValueError(f"schedule {self.name}: stage_days must be >= 1")
        if not self.daily_quotas:
            raise ValueError(f"schedule {self.name}: needs at least one daily quota")
        if any(q < 0 for q in self.daily_quotas):
            raise ValueError(f"schedule {self.name}: daily quotas must not be negative")


SIX_WEEK = Schedule("six-week", 7, (50, 200, 500, 1500, 5000, 10000))

# daily-40: 50 * 1.4**k rounded to two significant figures for k = 0..29 (50 .. 860,000),
# then 1,000,000 (the cap) for the remaining 10 days: 40 one-day stages. The plateau makes
# the IP prove itself at full volume, one gated day at a time, before it leaves warmup.
DAILY_40 = Schedule(
    "daily-40",
    1,
    (
        *(50, 70, 98, 140, 190, 270, 380, 530, 740, 1000),
        *(1400, 2000, 2800, 4000, 5600, 7800, 11000, 15000, 21000, 30000),
        *(42000, 59000, 82000, 110000, 160000, 220000, 310000, 440000, 620000, 860000),
        *(1_000_000,) * 10,
    ),
)

BUILTIN_SCHEDULES: Mapping[str, Schedule] = {s.name: s for s in (SIX_WEEK, DAILY_40)}


def schedules_from(warmup: WarmupConfig | None) -> dict[str, Schedule]:
    """Built-in schedules plus the config's ``[warmup.schedules.*]``; a custom schedule with
    a built-in's name replaces it."""
    out = dict(BUILTIN_SCHEDULES)
    if warmup is not None:
        for name, s in warmup.schedules.items():
            out[name] = Schedule(name, s.stage_days, tuple(s.daily_quotas))
    return out


@dataclass(frozen=True, slots=True)
class PlanState:
    ip: str
    pool: str | None
    schedule: str
    stage_days: int
    daily_quotas: tuple[int, ...]
    stage: int = 0  # 0-based
    day: int = 0  # 0-based day within the stage; >= stage_days while held past its end
    state: PlanStatus = "warming"
    state_reason: str = ""
    started_at: float = 0.0
    day_started_at: float = 0.0
    paused_at: float | None = None
    updated_at: float = 0.0

    @property
    def last_stage(self) -> int:
        return len(self.daily_quotas) - 1

    @property
    def overdue(self) -> bool:
        """Past the end of its stage (held by the stage gate or by a critical hold)."""
        return self.day >= self.stage_days


ACTIVE_STATES: tuple[PlanStatus, ...] = ("warming", "held")


def start_plan(ip: str, schedule: Schedule, pool: str | None, now: float) -> PlanState:
    """A new plan at stage 0, day 0. Starting is not one of ``ACTION_NAMES``; audit it as the
    operator command (or config declaration) that created it."""
    return PlanState(
        ip=ip,
        pool=pool,
        schedule=schedule.name,
        stage_days=schedule.stage_days,
        daily_quotas=tuple(schedule.daily_quotas),
        state_reason=f"started on {schedule.name}",
        started_at=now,
        day_started_at=now,
        updated_at=now,
    )


def daily_quota(plan: PlanState) -> int:
    """The current stage's quota per day (the last stage's once completed)."""
    return plan.daily_quotas[min(plan.stage, plan.last_stage)]


def warmup_quotas(plans: Iterable[PlanState]) -> dict[str, int]:
    """Per IP, what its warmup contributes to pool capacity today: the quota while warming
    or held, 0 while paused; completed plans are left out (their pool member is active)."""
    return {
        p.ip: (0 if p.state == "paused" else daily_quota(p))
        for p in plans
        if p.state != "completed"
    }


def stage_window_start(plan: PlanState) -> float:
    """Start of the counters to pass as ``stage_stats``: the stage's first day, or the
    first of its last ``stage_days`` days once the stage is overdue."""
    return plan.day_started_at - min(plan.day, plan.stage_days - 1) * DAY


def day_window_start(plan: PlanState) -> float:
    """Start of "today" for the over-quota check: the plan's day, not the calendar day."""
    return plan.day_started_at


def next_change_at(plan: PlanState, auto_resume_after: float | None = None) -> float | None:
    """When the plan may next move by itself: the next day boundary; for a paused plan the
    auto-resume time (None when auto-resume is off); None once completed."""
    if plan.state == "completed":
        return None
    if plan.state == "paused":
        if auto_resume_after is None or plan.paused_at is None:
            return None
        return plan.paused_at + auto_resume_after
    return plan.day_started_at + DAY


def over_quota(plan: PlanState, today_sent: int) -> bool:
    """Sent more today than the day's quota (only while warming or held). The policy turns
    this into a ``warmup_over_quota`` observation, which opens a warning alert."""
    return plan.state in ACTIVE_STATES and today_sent > daily_quota(plan)


def stage_label(plan: PlanState) -> str:
    return f"stage {plan.stage + 1}/{len(plan.daily_quotas)}"


def _action(plan: PlanState, name: str, reason: str, numbers: Numbers, actor: str) -> Action:
    nums: dict[str, float | int | str | None] = dict(numbers)
    nums.update(stage=plan.stage, day=plan.day, quota=daily_quota(plan))
    return Action(name, plan.ip, plan.pool or "", "", reason, nums, actor)


def _gate(plan: PlanState, stats: WindowStats, t: Thresholds) -> str | None:
    """None when the stage may advance; otherwise why not, with the numbers."""
    where = f"{stage_label(plan)} ended"
    if stats.sent < t.min_sample:
        return f"{where} with {stats.sent} sent (fewer than {t.min_sample} to judge it)"
    problems = []
    if bounce_severity(stats, t) != Severity.OK:
        problems.append(
            f"bounce {stats.bounce_rate or 0:.2%} of {stats.sent} sent (needs < {t.warning:.2%})"
        )
    if complaint_severity(stats, t) != Severity.OK:
        rate = stats.complaint_rate
        shown = "n/a" if rate is None else f"{rate:.2%}"
        problems.append(
            f"complaints {shown} of {stats.delivered} delivered (needs < {t.complaint_warning:.2%})"
        )
    return f"{where} with " + " and ".join(problems) if problems else None


def _gate_numbers(stats: WindowStats) -> dict[str, float | int | str | None]:
    return {
        "stage_sent": stats.sent,
        "stage_bounced": stats.bounced,
        "stage_bounce_rate": stats.bounce_rate,
        "stage_complaints": stats.complaints,
        "stage_complaint_rate": stats.complaint_rate,
    }


def tick(
    plan: PlanState,
    stage_stats: WindowStats,
    severity: Severity,
    thresholds: Thresholds,
    now: float,
    auto_resume_after: float | None = None,
    *,
    reason: str = "",
    numbers: Numbers | None = None,
) -> tuple[PlanState, list[Action]]:
    """One engine check of one plan.

    ``severity``/``reason``/``numbers`` describe the IP in the monitoring window (the policy
    computes them); ``stage_stats`` are its counters since :func:`stage_window_start`.
    Returns the same ``plan`` object when nothing changed.
    """
    nums: Numbers = numbers or {}
    if plan.state == "completed":
        return plan, []
    if plan.state == "paused":
        if (
            auto_resume_after is not None
            and plan.paused_at is not None
            and now >= plan.paused_at + auto_resume_after
            and severity < Severity.WARNING
        ):
            why = f"auto-resumed after {format_duration(auto_resume_after)} paused"
            return resume(plan, now, actor="engine", reason=f"{why}; {reason}" if reason else why)
        return plan, []

    if severity >= Severity.BLOCK:
        return pause(plan, reason or "block severity", now, actor="engine", numbers=nums)

    actions: list[Action] = []
    p = plan
    if severity == Severity.CRITICAL:
        why = f"held: {reason}" if reason else "held: critical severity"
        if p.state != "held":
            p = replace(p, state="held", state_reason=why, updated_at=now)
            actions.append(_action(p, "hold_warmup", why, nums, "engine"))
        elif p.state_reason != why:
            p = replace(p, state_reason=why, updated_at=now)

    # Day boundaries inside the stage: move freely (several at once after downtime).
    while now >= p.day_started_at + DAY and p.day + 1 < p.stage_days:
        p = replace(p, day=p.day + 1, day_started_at=p.day_started_at + DAY, updated_at=now)

    # The boundary that ends the stage: one gated step per tick.
    if now >= p.day_started_at + DAY:
        nxt = p.day_started_at + DAY
        failed = _gate(p, stage_stats, thresholds)
        if severity >= Severity.CRITICAL:
            p = replace(p, day=p.day + 1, day_started_at=nxt, updated_at=now)
        elif failed is not None:
            why = f"held: {failed}"
            was = p.state
            p = replace(
                p, state="held", state_reason=why, day=p.day + 1, day_started_at=nxt, updated_at=now
            )
            if was != "held":
                actions.append(_action(p, "hold_warmup", why, _gate_numbers(stage_stats), "engine"))
        elif p.stage >= p.last_stage:
            why = f"completed {p.schedule} ({len(p.daily_quotas)} stages)"
            p = replace(p, state="completed", state_reason=why, day_started_at=nxt, updated_at=now)
            actions.append(_action(p, "complete_warmup", why, _gate_numbers(stage_stats), "engine"))
        else:
            done = stage_label(p)
            stats = stage_stats
            why = (
                f"{done} passed: bounce {stats.bounce_rate or 0:.2%} of {stats.sent} sent; "
                f"now {daily_quota(replace(p, stage=p.stage + 1))}/day"
            )
            p = replace(
                p,
                stage=p.stage + 1,
                day=0,
                day_started_at=nxt,
                state="warming",
                state_reason=why,
                updated_at=now,
            )
            actions.append(_action(p, "advance_warmup", why, _gate_numbers(stats), "engine"))
        return p, actions

    # A hold caused by severity lifts at the first healthy (ok) check, unless the stage is
    # overdue: then only the gate releases it.
    if p.state == "held" and severity == Severity.OK and not p.overdue:
        why = f"hold released: {reason}" if reason else "hold released: healthy"
        p = replace(p, state="warming", state_reason=why, updated_at=now)
        actions.append(_action(p, "resume_warmup", why, {**nums, "from": "held"}, "engine"))
    return p, actions


# Operator commands (and the engine's pause). Each raises ValueError with the sentence to
# show the operator when the command makes no sense for the plan's state.


def pause(
    plan: PlanState,
    reason: str,
    now: float,
    *,
    actor: str = "engine",
    numbers: Numbers | None = None,
) -> tuple[PlanState, list[Action]]:
    if plan.state in ("paused", "completed"):
        raise ValueError(f"warmup of {plan.ip} is already {plan.state}")
    why = f"paused: {reason}" if reason else "paused"
    p = replace(plan, state="paused", state_reason=why, paused_at=now, updated_at=now)
    return p, [_action(p, "pause_warmup", why, numbers or {}, actor)]


def resume(
    plan: PlanState, now: float, *, actor: str = "engine", reason: str = ""
) -> tuple[PlanState, list[Action]]:
    """Paused (or held) -> warming. From paused the current stage restarts at day 0."""
    if plan.state == "paused":
        why = f"resumed: {reason}" if reason else "resumed"
        p = replace(
            plan,
            state="warming",
            state_reason=why,
            day=0,
            day_started_at=now,
            paused_at=None,
            updated_at=now,
        )
        return p, [_action(p, "resume_warmup", why, {"from": "paused"}, actor)]
    if plan.state == "held":
        why = f"hold released: {reason}" if reason else "hold released"
        p = replace(plan, state="warming", state_reason=why, updated_at=now)
        return p, [_action(p, "resume_warmup", why, {"from": "held"}, actor)]
    raise ValueError(f"warmup of {plan.ip} is {plan.state}, not paused")


def advance(
    plan: PlanState, now: float, *, actor: str, reason: str = ""
) -> tuple[PlanState, list[Action]]:
    """One stage forward, at day 0 from now; past the last stage the plan completes. A paused
    plan stays paused; a held one is released."""
    if plan.state == "completed":
        raise ValueError(f"warmup of {plan.ip} is already completed")
    note = f" ({reason})" if reason else ""
    if plan.stage >= plan.last_stage:
        why = f"completed by {actor}{note}"
        p = replace(
            plan,
            state="completed",
            state_reason=why,
            day_started_at=now,
            paused_at=None,
            updated_at=now,
        )
        return p, [_action(p, "complete_warmup", why, {}, actor)]
    state: PlanStatus = "paused" if plan.state == "paused" else "warming"
    p = replace(plan, stage=plan.stage + 1, day=0, day_started_at=now, state=state, updated_at=now)
    why = f"advanced to {stage_label(p)} ({daily_quota(p)}/day) by {actor}{note}"
    p = replace(p, state_reason=why)
    return p, [_action(p, "advance_warmup", why, {}, actor)]


def rollback(
    plan: PlanState, now: float, *, actor: str, reason: str = ""
) -> tuple[PlanState, list[Action]]:
    """One stage back, at day 0 from now. A paused plan stays paused; a held one is released
    (the engine holds it again at once if the IP is still critical)."""
    if plan.state == "completed":
        raise ValueError(f"warmup of {plan.ip} is completed; start a new plan instead")
    if plan.stage == 0:
        raise ValueError(f"warmup of {plan.ip} is already at the first stage")
    state: PlanStatus = "paused" if plan.state == "paused" else "warming"
    p = replace(plan, stage=plan.stage - 1, day=0, day_started_at=now, state=state, updated_at=now)
    note = f" ({reason})" if reason else ""
    why = f"rolled back to {stage_label(p)} ({daily_quota(p)}/day) by {actor}{note}"
    p = replace(p, state_reason=why)
    return p, [_action(p, "rollback_warmup", why, {}, actor)]


__all__ = [
    "BUILTIN_SCHEDULES",
    "DAILY_40",
    "DAY",
    "SIX_WEEK",
    "Action",
    "PlanState",
    "PlanStatus",
    "Schedule",
    "advance",
    "daily_quota",
    "day_window_start",
    "next_change_at",
    "over_quota",
    "pause",
    "resume",
    "rollback",
    "schedules_from",
    "stage_window_start",
    "start_plan",
    "tick",
    "warmup_quotas",
]
