"""One check: thresholds at their boundaries, per-IP actions, alert observations."""

from __future__ import annotations

from dataclasses import replace

from opsconsole.core.alerts import describe, observe
from opsconsole.core.policy import (
    ALL_SUBUSERS,
    Decision,
    Observation,
    PolicyConfig,
    evaluate,
    ip_totals,
    reason_text,
)
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity, Thresholds, WindowStats, severity
from opsconsole.core.warmup import DAY, SIX_WEEK, start_plan
from opsconsole.settings import ACTION_NAMES, MonitorSettings, Settings, WarmupSettings
from opsconsole.wiring import engine_config
from tests.helpers.clock import FakeClock

T = Thresholds()
CFG = PolicyConfig()
A, B = "203.0.113.1", "203.0.113.2"


def stats(sent: int, bounced: int = 0, complaints: int = 0) -> WindowStats:
    return WindowStats(delivered=sent - bounced, bounced=bounced, complaints=complaints)


def obs(d: Decision, rule: str, ip: str, subuser: str) -> Observation:
    [o] = [o for o in d.observations if (o.rule, o.ip, o.subuser) == (rule, ip, subuser)]
    return o


def test_thresholds_at_exact_boundaries() -> None:
    assert severity(stats(100, 4), T) == Severity.OK
    assert severity(stats(100, 5), T) == Severity.WARNING  # 0.05 exactly
    assert severity(stats(100, 10), T) == Severity.CRITICAL
    assert severity(stats(100, 15), T) == Severity.BLOCK
    assert severity(stats(9, 9), T) == Severity.INSUFFICIENT  # sent 9 < min_sample 10
    assert severity(stats(10, 0), T) == Severity.OK
    assert severity(stats(1000, 0, complaints=1), T) == Severity.WARNING  # 0.001 exactly
    assert severity(stats(1000, 0, complaints=3), T) == Severity.BLOCK
    assert severity(stats(1000, 0, complaints=2), T) == Severity.WARNING


def test_reason_text() -> None:
    assert reason_text(stats(250, 30), T, 3600) == "bounce 12.00% of 250 sent in 1h"
    assert reason_text(stats(9, 9), T, 3600) == "9 sent in 1h (fewer than 10 to judge)"
    assert reason_text(stats(1000, 0, complaints=4), T, 1800) == (
        "complaints 0.40% of 1000 delivered in 30m"
    )
    assert reason_text(stats(1000, 200, complaints=4), T, 3600) == (
        "bounce 20.00% of 1000 sent in 1h; complaints 0.50% of 800 delivered in 1h"
    )


def test_warning_is_alert_only() -> None:
    m = MemberState("bulk", A)
    d = evaluate({(A, ""): stats(100, 5)}, [m], [], CFG, 0.0)
    assert d.actions == ()
    assert d.members == (m,)
    assert d.members[0] is m
    o = obs(d, "bounce_rate", A, "")
    assert (o.breach, o.value, o.sent) == (Severity.WARNING, 0.05, 100)
    assert obs(d, "complaint_rate", A, "").breach == Severity.OK
    assert d.severities == {A: Severity.WARNING}


def test_insufficient_sample_does_nothing() -> None:
    m = MemberState("bulk", A)
    d = evaluate({(A, ""): stats(9, 9)}, [m], [], CFG, 0.0)
    assert d.actions == ()
    assert obs(d, "bounce_rate", A, "").breach == Severity.INSUFFICIENT


def test_production_critical_deprioritizes_then_recovers() -> None:
    clock = FakeClock()
    members = [MemberState("bulk", A), MemberState("transactional", A, base_weight=50, weight=50)]
    d = evaluate({(A, "primary"): stats(250, 30)}, members, [], CFG, clock())
    assert [(a.name, a.pool, a.reason) for a in d.actions] == [
        ("deprioritize", "bulk", "deprioritized: bounce 12.00% of 250 sent in 1h"),
        ("deprioritize", "transactional", "deprioritized: bounce 12.00% of 250 sent in 1h"),
    ]
    assert all(a.name in ACTION_NAMES for a in d.actions)
    assert [m.weight for m in d.members] == [10.0, 5.0]
    assert d.actions[0].numbers["bounce_rate"] == 0.12
    assert d.actions[0].numbers["sent"] == 250
    assert d.actions[0].numbers["window_seconds"] == 3600.0
    o = obs(d, "bounce_rate", A, "primary")
    assert o.context == {"window": "1h", "action": "deprioritize"}
    members = list(d.members)
    for i in range(3):
        clock.advance(300)
        d = evaluate({(A, "primary"): stats(250, 2)}, members, [], CFG, clock())
        members = list(d.members)
        expected = [] if i < 2 else ["recover", "recover"]
        assert [a.name for a in d.actions] == expected
    assert [(m.state, m.weight) for m in members] == [("active", 100.0), ("active", 50.0)]


def test_production_block_removes_and_alert_reads_like_the_spec() -> None:
    clock = FakeClock()
    d = evaluate({(A, "primary"): stats(500, 90)}, [MemberState("bulk", A)], [], CFG, clock())
    assert [a.name for a in d.actions] == ["remove"]
    assert d.members[0].weight == 0.0
    o = obs(d, "bounce_rate", A, "primary")
    assert o.breach == Severity.BLOCK
    alert, _, notify = observe(
        None,
        o.rule,
        o.ip,
        o.subuser,
        o.breach,
        o.value,
        o.sent,
        clock(),
        3,
        0.05,
        False,
        lambda: "x",
        o.context,
    )
    assert notify is True and alert is not None
    assert (alert.severity, alert.title, alert.message) == (
        "critical",
        "IP Blocked - High Bounce Rate",
        f"IP {A} (subuser: primary) removed from rotation due to 18.00% bounce rate",
    )


def test_action_named_only_on_the_reading_that_caused_it() -> None:
    # Complaints block the IP (remove); bounce is only critical: the bounce alert must not
    # claim the IP was deprioritized.
    d = evaluate({(A, ""): stats(1000, 100, complaints=5)}, [MemberState("bulk", A)], [], CFG, 0)
    assert [a.name for a in d.actions] == ["remove"]
    assert obs(d, "bounce_rate", A, "").context == {"window": "1h"}
    assert obs(d, "complaint_rate", A, "").context == {"window": "1h", "action": "remove"}


def test_unmanaged_ip_only_alerts() -> None:
    d = evaluate({(A, ""): stats(500, 90)}, [], [], CFG, 0)
    assert d.actions == ()
    assert obs(d, "bounce_rate", A, "").breach == Severity.BLOCK
    assert obs(d, "bounce_rate", A, "").context == {"window": "1h"}


def test_policy_acts_on_ip_totals_and_alerts_all_subusers() -> None:
    # Two subusers each too small to judge; together 18 sent, 6 bounced: block.
    keys = {(A, "s1"): stats(9, 3), (A, "s2"): stats(9, 3)}
    assert ip_totals(keys) == {A: stats(18, 6)}
    d = evaluate(keys, [MemberState("bulk", A)], [], CFG, 0)
    assert [a.name for a in d.actions] == ["remove"]
    assert d.actions[0].reason == "removed: bounce 33.33% of 18 sent in 1h"
    assert obs(d, "bounce_rate", A, "s1").breach == Severity.INSUFFICIENT
    star = obs(d, "bounce_rate", A, ALL_SUBUSERS)
    assert (star.breach, star.sent, star.context) == (
        Severity.BLOCK,
        18,
        {"window": "1h", "action": "remove"},
    )
    assert describe("bounce_rate", "critical", A, ALL_SUBUSERS, star.value, 18, star.context) == (
        "IP Blocked - High Bounce Rate",
        f"IP {A} (all subusers) removed from rotation due to 33.33% bounce rate",
    )


def test_all_subusers_reads_ok_when_a_key_explains_it() -> None:
    keys = {(A, "s1"): stats(100, 20), (A, "s2"): stats(100, 0)}  # total 10%: critical
    d = evaluate(keys, [], [], CFG, 0)
    assert obs(d, "bounce_rate", A, "s1").breach == Severity.BLOCK
    assert obs(d, "bounce_rate", A, ALL_SUBUSERS).breach == Severity.OK
    # No subusers (Postfix): no "*" observation at all.
    d = evaluate({(B, ""): stats(100, 20)}, [], [], CFG, 0)
    assert [o.subuser for o in d.observations] == ["", ""]


def test_warming_ip_critical_holds_block_pauses() -> None:
    clock = FakeClock()
    plan = start_plan(A, SIX_WEEK, "bulk", clock())
    member = MemberState("bulk", A, state="warming")
    clock.advance(300)
    d = evaluate({(A, ""): stats(250, 30)}, [member], [plan], CFG, clock())
    assert [a.name for a in d.actions] == ["hold_warmup"]
    assert d.plans[0].state == "held"
    assert d.plans[0].state_reason == "held: bounce 12.00% of 250 sent in 1h"
    assert d.members == (member,)
    assert obs(d, "bounce_rate", A, "").context["action"] == "hold_warmup"
    clock.advance(300)
    d = evaluate({(A, ""): stats(250, 40)}, [member], list(d.plans), CFG, clock())
    assert [a.name for a in d.actions] == ["pause_warmup"]
    assert d.actions[0].pool == "bulk"
    assert d.plans[0].state == "paused"
    assert d.members == (member,)


def test_warming_ip_without_data_still_moves_days() -> None:
    clock = FakeClock()
    plan = start_plan(A, SIX_WEEK, None, clock())
    d = evaluate({}, [], [plan], CFG, clock() + DAY)
    assert d.plans[0].day == 1
    assert d.severities == {A: Severity.INSUFFICIENT}
    o = obs(d, "warmup_over_quota", A, "")
    assert (o.breach, o.sent) == (Severity.OK, 0)


def test_completion_makes_members_active_at_full_weight() -> None:
    clock = FakeClock()
    plan = start_plan(A, SIX_WEEK, "bulk", clock())
    plan = replace(plan, stage=5, day=6)
    member = MemberState("bulk", A, base_weight=100, weight=100, state="warming")
    d = evaluate(
        {(A, ""): stats(1000, 5)},
        [member],
        [plan],
        CFG,
        clock() + DAY,
        stage_stats={A: stats(70000, 300)},
    )
    assert [a.name for a in d.actions] == ["complete_warmup"]
    assert (d.plans[0].state, d.members[0].state, d.members[0].weight) == (
        "completed",
        "active",
        100,
    )
    # Next check: a production IP now.
    d = evaluate({(A, ""): stats(250, 30)}, list(d.members), list(d.plans), CFG, clock() + DAY)
    assert [a.name for a in d.actions] == ["deprioritize"]
    assert obs(d, "warmup_over_quota", A, "").breach == Severity.OK


def test_over_quota_observation() -> None:
    clock = FakeClock()
    plan = start_plan(A, SIX_WEEK, "bulk", clock())
    d = evaluate({(A, ""): stats(51, 0)}, [], [plan], CFG, clock(), today_sent={A: 51})
    o = obs(d, "warmup_over_quota", A, "")
    assert (o.breach, o.value, o.sent) == (Severity.WARNING, 51 / 50, 51)
    assert o.context == {"quota": 50, "stage": "stage 1/6"}
    d = evaluate({}, [], [plan], CFG, clock(), today_sent={A: 50})
    assert obs(d, "warmup_over_quota", A, "").breach == Severity.OK


def test_unattributed_ip_is_ignored() -> None:
    d = evaluate({("", ""): stats(500, 400)}, [], [], CFG, 0)
    assert d.actions == () and d.observations == () and d.severities == {}


def test_config_from_settings() -> None:
    m = MonitorSettings.model_validate(
        {"window": "30m", "min_sample": 20, "deprioritize_factor": 0.25, "recover_checks": 5}
    )
    w = WarmupSettings.model_validate({"auto_resume_after": "48h"})
    c = engine_config(Settings(monitor=m, warmup=w))
    cfg = PolicyConfig.from_config(c.monitor, c.warmup)
    assert cfg == PolicyConfig(
        thresholds=Thresholds(min_sample=20),
        deprioritize_factor=0.25,
        recover_checks=5,
        window=1800.0,
        auto_resume_after=172800.0,
    )
    assert PolicyConfig.from_config(engine_config(Settings()).monitor) == PolicyConfig()
