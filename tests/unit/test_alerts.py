"""Alert transitions: open, dedupe, escalate, re-notify, acknowledge, resolve, silence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from opsconsole.core.alerts import (
    AlertState,
    Transition,
    ack,
    alert_severity,
    dedup_key,
    describe,
    is_silenced,
    observe,
    resolve,
)
from opsconsole.core.stats import Severity
from tests.helpers.clock import FakeClock

OK, WARN, CRIT, BLOCK, INSUF = (
    Severity.OK,
    Severity.WARNING,
    Severity.CRITICAL,
    Severity.BLOCK,
    Severity.INSUFFICIENT,
)
IP, SUB = "192.168.1.1", "primary"


def ids() -> Callable[[], str]:
    it: Iterator[int] = iter(range(1, 1000))
    return lambda: f"a{next(it)}"


class Feed:
    """Observe one bounce_rate key repeatedly, the way the engine does."""

    def __init__(self, rule: str = "bounce_rate") -> None:
        self.clock = FakeClock()
        self.alert: AlertState | None = None
        self.new_id = ids()
        self.rule = rule
        self.history: list[Transition] = []

    def __call__(
        self,
        breach: Severity,
        value: float | None = None,
        sent: int = 500,
        silenced: bool = False,
        context: dict[str, Any] | None = None,
    ) -> bool:
        self.clock.advance(300)
        self.alert, trans, notify = observe(
            self.alert,
            self.rule,
            IP,
            SUB,
            breach,
            value,
            sent,
            self.clock(),
            3,
            0.05,
            silenced,
            self.new_id,
            context,
        )
        self.history.extend(trans)
        return notify

    @property
    def a(self) -> AlertState:
        assert self.alert is not None
        return self.alert

    def kinds(self) -> list[str]:
        return [t.transition for t in self.history]


def test_severity_mapping_and_key() -> None:
    assert alert_severity("bounce_rate", WARN) == "info"
    assert alert_severity("bounce_rate", CRIT) == "warning"
    assert alert_severity("complaint_rate", BLOCK) == "critical"
    assert alert_severity("bounce_rate", OK) is None
    assert alert_severity("bounce_rate", INSUF) is None
    assert alert_severity("warmup_over_quota", WARN) == "warning"
    assert alert_severity("source_stale", WARN) == "warning"
    assert dedup_key("bounce_rate", IP, "") == "bounce_rate|192.168.1.1|"


def test_healthy_without_alert_stores_nothing() -> None:
    f = Feed()
    assert f(OK, 0.01) is False
    assert f.alert is None and f.history == []


def test_open_notifies_then_dedupes() -> None:
    f = Feed()
    assert f(WARN, 0.06, context={"window": "1h"}) is True
    a = f.a
    assert (a.id, a.key, a.rule, a.severity, a.state) == (
        "a1",
        "bounce_rate|192.168.1.1|primary",
        "bounce_rate",
        "info",
        "firing",
    )
    assert (a.value, a.sent, a.opened_at, a.last_seen_at) == (0.06, 500, f.clock(), f.clock())
    assert (a.notified_severity, a.notified_value) == ("info", 0.06)
    assert a.title == "Elevated Bounce Rate"
    assert a.message == "IP 192.168.1.1 (subuser: primary) at 6.00% bounce rate (500 sent in 1h)"
    assert f.history == [Transition("a1", f.clock(), "opened", "engine", "info", 0.06, "")]
    # Same severity, small rise: deduplicated, values tracked, wording kept.
    assert f(WARN, 0.09, sent=700) is False
    assert (f.a.id, f.a.value, f.a.sent, f.a.last_seen_at) == ("a1", 0.09, 700, f.clock())
    assert f.a.title == "Elevated Bounce Rate" and "6.00%" in f.a.message
    assert f.kinds() == ["opened"]


def test_escalation_notifies_lower_breach_does_not_deescalate() -> None:
    f = Feed()
    f(WARN, 0.06)
    assert f(CRIT, 0.11, context={"action": "deprioritize"}) is True
    assert (f.a.severity, f.a.notified_severity) == ("warning", "warning")
    assert f.a.title == "IP Deprioritized - High Bounce Rate"
    assert f(BLOCK, 0.18, context={"action": "remove"}) is True
    assert f.a.severity == "critical"
    assert f.a.title == "IP Blocked - High Bounce Rate"
    assert f.a.message == (
        "IP 192.168.1.1 (subuser: primary) removed from rotation due to 18.00% bounce rate"
    )
    assert f(WARN, 0.07) is False
    assert f.a.severity == "critical"
    assert f.kinds() == ["opened", "escalated", "escalated"]


def test_renotify_on_rise_of_exactly_delta() -> None:
    f = Feed()
    f(CRIT, 0.10)
    assert f(CRIT, 0.149) is False
    assert f(CRIT, 0.15) is True  # 0.10 + 0.05, exactly
    assert f.a.notified_value == 0.15
    assert f.history[-1].transition == "rose"
    assert f.history[-1].note == "from 10.00% to 15.00%"
    assert f(CRIT, 0.19) is False  # measured from the last notified value
    assert f(CRIT, 0.20) is True
    # A fall and a rise back do not re-notify.
    assert f(CRIT, 0.12) is False
    assert f(CRIT, 0.20) is False


def test_ack_stops_renotify_but_escalation_still_notifies() -> None:
    f = Feed()
    f(WARN, 0.05)
    a, trans, notify = ack(f.a, "alice", "looking", f.clock())
    assert (a.state, a.acknowledged_by, a.acknowledged_at, a.ack_note) == (
        "acknowledged",
        "alice",
        f.clock(),
        "looking",
    )
    assert notify is False
    assert [(t.transition, t.actor, t.note) for t in trans] == [
        ("acknowledged", "alice", "looking")
    ]
    f.alert = a
    assert f(WARN, 0.09) is False
    assert f(WARN, 0.099) is False
    assert f.a.state == "acknowledged"
    assert f(CRIT, 0.12) is True
    assert f.a.state == "firing"
    with pytest.raises(ValueError, match="not firing"):
        ack(a, "bob", "", f.clock())


def test_auto_resolve_after_exactly_recover_checks() -> None:
    f = Feed()
    f(CRIT, 0.12)
    assert f(OK, 0.01) is False
    assert f(OK, 0.01) is False
    assert (f.a.state, f.a.healthy_checks) == ("firing", 2)
    f(INSUF, None)  # neutral
    assert f.a.healthy_checks == 2
    f(WARN, 0.06)  # a breach resets the streak
    assert f.a.healthy_checks == 0
    f(OK, 0.01)
    f(OK, 0.01)
    assert f.a.state == "firing"
    assert f(OK, 0.02) is True  # resolved notice goes where the firing one went
    a = f.a
    assert (a.state, a.resolved_by, a.resolved_at) == ("resolved", "engine", f.clock())
    assert a.resolve_note == "auto-resolved after 3 healthy checks"
    assert f.kinds() == ["opened", "resolved"]
    # Further healthy checks: nothing.
    assert f(OK, 0.0) is False
    assert f.a is a


def test_acknowledged_alert_auto_resolves_too() -> None:
    f = Feed()
    f(WARN, 0.06)
    f.alert, _, _ = ack(f.a, "alice", "", f.clock())
    assert f.a.ack_note is None
    for _ in range(3):
        f(OK, 0.0)
    assert f.a.state == "resolved"


def test_new_breach_after_resolve_opens_a_new_alert() -> None:
    f = Feed()
    f(WARN, 0.06)
    f.alert, _, notify = resolve(f.a, "bob", "false alarm", f.clock())
    assert (f.a.state, f.a.resolved_by, f.a.resolve_note, notify) == (
        "resolved",
        "bob",
        "false alarm",
        True,
    )
    with pytest.raises(ValueError, match="already resolved"):
        resolve(f.a, "bob", "", f.clock())
    old = f.a
    assert f(WARN, 0.07) is True
    assert f.a.id == "a2" and f.a.id != old.id
    assert (f.a.state, f.a.healthy_checks, f.a.opened_at) == ("firing", 0, f.clock())
    assert f.a.key == old.key


def test_silence_mutes_then_catches_up() -> None:
    f = Feed()
    assert f(CRIT, 0.12, silenced=True) is False
    assert (f.a.state, f.a.notified_severity, f.a.notified_value) == ("firing", None, None)
    assert f.history[-1].note == "notification muted by silence"
    assert f(BLOCK, 0.30, silenced=True) is False
    assert f.a.severity == "critical"
    assert f(BLOCK, 0.31) is True  # silence over: first notification
    assert f.a.notified_severity == "critical"
    assert f(BLOCK, 0.40, silenced=True) is False  # rise muted too
    for _ in range(3):
        notify = f(OK, 0.0, silenced=True)
    assert f.a.state == "resolved" and notify is False


def test_never_notified_alert_resolves_silently() -> None:
    f = Feed()
    f(WARN, 0.06, silenced=True)
    results = [f(OK, 0.0) for _ in range(3)]
    assert results == [False, False, False]
    assert f.a.state == "resolved"


def test_over_quota_rule_does_not_renotify_on_rise() -> None:
    f = Feed("warmup_over_quota")
    ctx = {"quota": 50, "stage": "stage 1/6"}
    assert f(WARN, 1.2, sent=60, context=ctx) is True
    assert f.a.severity == "warning"
    assert f.a.title == "Warmup Over Quota"
    assert f.a.message == (
        "IP 192.168.1.1 (subuser: primary) sent 60 today, over its warmup quota of 50/day "
        "at stage 1/6"
    )
    assert f(WARN, 3.0, sent=150) is False


def test_describe_wording() -> None:
    assert describe("bounce_rate", "critical", IP, SUB, 0.18, 500, {"action": "remove"}) == (
        "IP Blocked - High Bounce Rate",
        "IP 192.168.1.1 (subuser: primary) removed from rotation due to 18.00% bounce rate",
    )
    assert describe(
        "complaint_rate", "critical", IP, "", 0.004, 240, {"action": "pause_warmup"}
    ) == (
        "Warmup Paused - High Complaint Rate",
        "IP 192.168.1.1 warmup paused due to 0.40% complaint rate",
    )
    assert describe("bounce_rate", "warning", IP, "*", 0.11, 18, {"window": "1h"}) == (
        "High Bounce Rate",
        "IP 192.168.1.1 (all subusers) at 11.00% bounce rate (18 sent in 1h)",
    )
    assert describe(
        "source_stale", "warning", "", "", 1200, 0, {"source": "pmta", "age": "20m"}
    ) == (
        "Source Stale",
        "Source pmta has read no new events for 20m",
    )


def test_is_silenced() -> None:
    assert is_silenced(None, 10) is False
    assert is_silenced(11, 10) is True
    assert is_silenced(10, 10) is False
