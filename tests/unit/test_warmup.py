"""Warmup plans: schedules, day/stage advancement, holds, pauses and operator commands."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from opsconsole.core.actions import Action
from opsconsole.core.stats import Severity, Thresholds, WindowStats
from opsconsole.core.warmup import (
    DAILY_40,
    DAY,
    SIX_WEEK,
    PlanState,
    Schedule,
    advance,
    daily_quota,
    next_change_at,
    over_quota,
    pause,
    resume,
    rollback,
    schedules_from,
    stage_window_start,
    start_plan,
    tick,
    warmup_quotas,
)
from opsconsole.settings import ACTION_NAMES, Settings, WarmupSettings
from opsconsole.wiring import engine_config
from tests.helpers.clock import FakeClock

T = Thresholds()
GOOD = WindowStats(delivered=990, bounced=10)  # 1.00% bounce, no complaints
BAD = WindowStats(delivered=940, bounced=60)  # 6.00% bounce: above warning
IP = "203.0.113.9"


def _plan(clock: FakeClock, schedule: Schedule = SIX_WEEK) -> PlanState:
    return start_plan(IP, schedule, "bulk", clock())


def _run(
    plan: PlanState,
    clock: FakeClock,
    seconds: float,
    step: float = 3600.0,
    stats: WindowStats = GOOD,
    severity: Severity = Severity.OK,
    auto_resume_after: float | None = None,
) -> tuple[PlanState, list[Action]]:
    """Tick every ``step`` seconds for ``seconds``."""
    out: list[Action] = []
    end = clock() + seconds
    while clock() < end:
        clock.advance(step)
        plan, acts = tick(plan, stats, severity, T, clock(), auto_resume_after, reason="r")
        out.extend(acts)
    return plan, out


def test_builtin_schedules_are_exact() -> None:
    assert Schedule("six-week", 7, (50, 200, 500, 1500, 5000, 10000)) == SIX_WEEK
    q = DAILY_40.daily_quotas
    assert DAILY_40.stage_days == 1
    assert len(q) == 40
    assert q[:5] == (50, 70, 98, 140, 190)
    assert q[29] == 860_000
    assert q[30:] == (1_000_000,) * 10
    ratios = [b / a for a, b in pairwise(q[:30])]
    assert all(1.33 <= r <= 1.46 for r in ratios), ratios


def test_schedules_from_merges_custom_and_overrides() -> None:
    ws = WarmupSettings.model_validate(
        {
            "schedules": {
                "custom-3": {"stage_days": 2, "daily_quotas": [100, 1000, 10000]},
                "six-week": {"stage_days": 1, "daily_quotas": [1]},
            }
        }
    )
    s = schedules_from(engine_config(Settings(warmup=ws)).warmup)
    assert s["custom-3"] == Schedule("custom-3", 2, (100, 1000, 10000))
    assert s["six-week"] == Schedule("six-week", 1, (1,))
    assert s["daily-40"] is DAILY_40
    assert set(schedules_from(None)) == {"six-week", "daily-40"}


def test_schedule_validation() -> None:
    with pytest.raises(ValueError, match="stage_days"):
        Schedule("x", 0, (1,))
    with pytest.raises(ValueError, match="at least one"):
        Schedule("x", 1, ())


def test_start_plan() -> None:
    clock = FakeClock()
    p = _plan(clock)
    assert (p.ip, p.pool, p.schedule, p.stage_days) == (IP, "bulk", "six-week", 7)
    assert p.daily_quotas == (50, 200, 500, 1500, 5000, 10000)
    assert (p.stage, p.day, p.state) == (0, 0, "warming")
    assert p.started_at == p.day_started_at == p.updated_at == clock()
    assert p.paused_at is None
    assert daily_quota(p) == 50
    assert next_change_at(p) == clock() + DAY


def test_full_six_week_warmup_completes_on_day_42() -> None:
    clock = FakeClock()
    t0 = clock()
    plan = _plan(clock)
    seen: list[tuple[int, int]] = []
    actions: list[Action] = []
    for _ in range(42 * 24):
        clock.advance(3600)
        plan, acts = tick(plan, GOOD, Severity.OK, T, clock())
        actions.extend(acts)
        if clock.now == t0 + len(seen) * 7 * DAY + 7 * DAY - 3600:
            seen.append((plan.stage, plan.day))
    assert plan.state == "completed"
    assert [a.name for a in actions] == ["advance_warmup"] * 5 + ["complete_warmup"]
    assert all(a.name in ACTION_NAMES for a in actions)
    assert seen == [(s, 6) for s in range(6)]  # last hour of every stage: its day 7
    assert actions[-1].ip == IP and actions[-1].pool == "bulk"
    assert plan.updated_at == t0 + 42 * DAY
    # Completed plans stay put.
    again, acts = tick(plan, BAD, Severity.BLOCK, T, clock() + 10 * DAY)
    assert again is plan and acts == []
    assert next_change_at(plan) is None


def test_stages_advance_exactly_at_the_boundary() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    plan, _ = _run(plan, clock, 7 * DAY - 3600)
    assert (plan.stage, plan.day) == (0, 6)
    p2, acts = tick(plan, GOOD, Severity.OK, T, plan.day_started_at + DAY - 0.001)
    assert p2 is plan and acts == []
    p3, acts = tick(plan, GOOD, Severity.OK, T, plan.day_started_at + DAY)
    assert (p3.stage, p3.day, p3.state) == (1, 0, "warming")
    assert daily_quota(p3) == 200
    assert [a.name for a in acts] == ["advance_warmup"]
    assert acts[0].numbers["stage_sent"] == 1000
    assert acts[0].numbers["quota"] == 200


def test_daily_40_completes_after_40_days() -> None:
    clock = FakeClock()
    plan = _plan(clock, DAILY_40)
    plan, acts = _run(plan, clock, 40 * DAY - 3600)
    assert (plan.stage, plan.state) == (39, "warming")
    plan, acts = _run(plan, clock, 3600)
    assert plan.state == "completed"
    assert [a.name for a in acts] == ["complete_warmup"]


def test_bad_stage_holds_then_advances_when_clean() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    plan, acts = _run(plan, clock, 7 * DAY - 3600, stats=BAD)
    assert acts == []  # mid-stage, stage stats are not judged
    plan, acts = _run(plan, clock, 3600, stats=BAD)
    assert (plan.stage, plan.day, plan.state) == (0, 7, "held")
    assert plan.overdue
    assert [a.name for a in acts] == ["hold_warmup"]
    assert plan.state_reason == (
        "held: stage 1/6 ended with bounce 6.00% of 1000 sent (needs < 5.00%)"
    )
    # Overdue: the gate looks at the last 7 days.
    assert stage_window_start(plan) == plan.day_started_at - 6 * DAY
    # Still bad the next day: still held, no second hold action; healthy window alone does
    # not release a gate hold.
    plan, acts = _run(plan, clock, DAY, stats=BAD)
    assert (plan.stage, plan.day, plan.state) == (0, 8, "held")
    assert acts == []
    # Clean at the next boundary: advance.
    plan, acts = _run(plan, clock, DAY)
    assert (plan.stage, plan.day, plan.state) == (1, 0, "warming")
    assert [a.name for a in acts] == ["advance_warmup"]
    assert stage_window_start(plan) == plan.day_started_at


def test_complaints_hold_the_stage() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    stats = WindowStats(delivered=1000, bounced=10, complaints=1)  # 0.10% = complaint warning
    plan, _ = _run(plan, clock, 7 * DAY, stats=stats)
    assert plan.state == "held"
    assert "complaints 0.10% of 1000 delivered (needs < 0.10%)" in plan.state_reason


def test_too_little_traffic_holds_the_stage() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    plan, _ = _run(plan, clock, 7 * DAY, stats=WindowStats(delivered=9))
    assert plan.state == "held"
    assert plan.state_reason == "held: stage 1/6 ended with 9 sent (fewer than 10 to judge it)"
    # Exactly min_sample clean sends pass.
    plan, _ = _run(plan, clock, DAY, stats=WindowStats(delivered=10))
    assert (plan.stage, plan.state) == (1, "warming")


def test_critical_holds_and_releases_on_ok() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    clock.advance(3600)
    plan, acts = tick(plan, GOOD, Severity.CRITICAL, T, clock(), reason="bounce 12.00% of 250")
    assert plan.state == "held"
    assert plan.state_reason == "held: bounce 12.00% of 250"
    assert [(a.name, a.reason) for a in acts] == [("hold_warmup", "held: bounce 12.00% of 250")]
    # Days still count while held.
    plan, acts = _run(plan, clock, DAY, severity=Severity.CRITICAL)
    assert (plan.day, plan.state, acts) == (1, "held", [])
    # Warning and insufficient are not healthy: still held.
    plan, acts = _run(plan, clock, 3600, severity=Severity.WARNING)
    assert plan.state == "held"
    plan, acts = _run(plan, clock, 3600, severity=Severity.INSUFFICIENT)
    assert plan.state == "held"
    plan, acts = _run(plan, clock, 3600, severity=Severity.OK)
    assert plan.state == "warming"
    assert [a.name for a in acts] == ["resume_warmup"]
    assert acts[0].numbers["from"] == "held"


def test_critical_at_stage_end_blocks_advancement() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    plan, _ = _run(plan, clock, 7 * DAY - 3600)
    plan, acts = _run(plan, clock, 3600, severity=Severity.CRITICAL)
    assert (plan.stage, plan.day, plan.state) == (0, 7, "held")
    assert [a.name for a in acts] == ["hold_warmup"]
    # Healthy again mid-day: stays held (overdue) until the next boundary's gate.
    plan, acts = _run(plan, clock, 3600)
    assert plan.state == "held" and acts == []
    plan, acts = _run(plan, clock, DAY - 3600)
    assert (plan.stage, plan.day, plan.state) == (1, 0, "warming")
    assert [a.name for a in acts] == ["advance_warmup"]


def test_block_pauses_and_only_operator_resumes() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    plan, _ = _run(plan, clock, 3 * DAY)
    assert plan.day == 3
    plan, acts = _run(plan, clock, 3600, severity=Severity.BLOCK)
    assert plan.state == "paused"
    assert plan.paused_at == clock()
    assert [a.name for a in acts] == ["pause_warmup"]
    paused = plan
    plan, acts = _run(plan, clock, 10 * DAY)
    assert plan is paused and acts == []
    assert next_change_at(plan) is None
    plan, acts = resume(plan, clock(), actor="alice", reason="fixed the list")
    assert (plan.state, plan.stage, plan.day) == ("warming", 0, 0)
    assert plan.day_started_at == clock() and plan.paused_at is None
    assert plan.state_reason == "resumed: fixed the list"
    assert [(a.name, a.actor) for a in acts] == [("resume_warmup", "alice")]


def test_auto_resume_needs_elapsed_time_and_no_breach() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    plan, _ = pause(plan, "bounce 20.00%", clock())
    after = 48 * 3600.0
    assert next_change_at(plan, after) == clock() + after
    p, acts = tick(plan, GOOD, Severity.OK, T, clock() + after - 1, after)
    assert p is plan and acts == []
    p, acts = tick(plan, GOOD, Severity.WARNING, T, clock() + after, after)
    assert p is plan and acts == []
    p, acts = tick(plan, GOOD, Severity.INSUFFICIENT, T, clock() + after, after, reason="0 sent")
    assert (p.state, p.day, p.day_started_at) == ("warming", 0, clock() + after)
    assert p.state_reason == "resumed: auto-resumed after 2d paused; 0 sent"
    assert [(a.name, a.actor) for a in acts] == [("resume_warmup", "engine")]


def test_operator_pause_and_errors() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    with pytest.raises(ValueError, match="not paused"):
        resume(plan, clock(), actor="bob")
    p, acts = pause(plan, "maintenance", clock(), actor="bob")
    assert p.state_reason == "paused: maintenance"
    assert (acts[0].name, acts[0].actor, acts[0].reason) == (
        "pause_warmup",
        "bob",
        "paused: maintenance",
    )
    with pytest.raises(ValueError, match="already paused"):
        pause(p, "again", clock())


def test_advance_and_rollback_at_the_edges() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    with pytest.raises(ValueError, match="first stage"):
        rollback(plan, clock(), actor="bob")
    p, acts = advance(plan, clock(), actor="bob")
    assert (p.stage, daily_quota(p), acts[0].name) == (1, 200, "advance_warmup")
    assert p.state_reason == "advanced to stage 2/6 (200/day) by bob"
    p, acts = rollback(p, clock(), actor="bob", reason="too fast")
    assert (p.stage, p.day, acts[0].name) == (0, 0, "rollback_warmup")
    assert p.state_reason == "rolled back to stage 1/6 (50/day) by bob (too fast)"
    for _ in range(5):
        p, _ = advance(p, clock(), actor="bob")
    assert (p.stage, p.state) == (5, "warming")
    p, acts = advance(p, clock(), actor="bob")
    assert p.state == "completed"
    assert [a.name for a in acts] == ["complete_warmup"]
    with pytest.raises(ValueError, match="already completed"):
        advance(p, clock(), actor="bob")
    with pytest.raises(ValueError, match="completed"):
        rollback(p, clock(), actor="bob")


def test_advance_keeps_a_paused_plan_paused_and_releases_a_hold() -> None:
    clock = FakeClock()
    plan, _ = pause(_plan(clock), "x", clock())
    p, _ = advance(plan, clock(), actor="bob")
    assert (p.stage, p.state) == (1, "paused")
    held, _ = tick(_plan(clock), GOOD, Severity.CRITICAL, T, clock())
    p, _ = rollback(advance(held, clock(), actor="bob")[0], clock(), actor="bob")
    assert (p.stage, p.state) == (0, "warming")


def test_over_quota_and_capacity_quotas() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    assert over_quota(plan, 50) is False
    assert over_quota(plan, 51) is True
    paused, _ = pause(plan, "x", clock())
    assert over_quota(paused, 500) is False
    done, _ = advance(replace(plan, stage=5), clock(), actor="bob")
    assert done.state == "completed"
    assert over_quota(done, 10**9) is False
    assert warmup_quotas([plan]) == {IP: 50}
    assert warmup_quotas([paused]) == {IP: 0}
    assert warmup_quotas([done]) == {}


def test_catch_up_after_downtime_moves_one_stage_per_tick() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    clock.advance(20 * DAY)
    plan, acts = tick(plan, GOOD, Severity.OK, T, clock())
    assert (plan.stage, plan.day) == (1, 0)
    assert [a.name for a in acts] == ["advance_warmup"]
    plan, acts = tick(plan, GOOD, Severity.OK, T, clock() + 300)
    assert (plan.stage, plan.day) == (2, 0)
    plan, acts = tick(plan, GOOD, Severity.OK, T, clock() + 600)
    assert (plan.stage, plan.day) == (2, 6)  # day 20 is day 6 of stage 3
    assert plan.day_started_at == plan.started_at + 20 * DAY
