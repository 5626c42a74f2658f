"""Rotation pool members: deprioritize, remove, recover, operator commands, capacity."""

from __future__ import annotations

import pytest

from opsconsole.core.rotation import (
    MemberState,
    complete_warmup,
    evaluate_member,
    pool_capacity,
    remove,
    restore,
    set_weight,
    start_warming,
    uncapped,
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


def _member(**kw: object) -> MemberState:
    return MemberState("bulk", "203.0.113.1", **kw)  # type: ignore[arg-type]


def _check(m: MemberState, sev: Severity, now: float) -> tuple[MemberState, list[str]]:
    new, acts = evaluate_member(m, sev, 0.1, 3, now, reason="bounce 12.00% of 250 sent in 1h")
    return new, [a.name for a in acts]


def test_critical_deprioritizes_to_a_tenth_of_base() -> None:
    clock = FakeClock()
    m, acts = evaluate_member(
        _member(), CRIT, 0.1, 3, clock(), reason="bounce 12.00% of 250 sent in 1h"
    )
    assert (m.state, m.weight, m.base_weight) == ("deprioritized", 10.0, 100.0)
    assert m.state_reason == "deprioritized: bounce 12.00% of 250 sent in 1h"
    assert m.changed_at == clock()
    [a] = acts
    assert (a.name, a.ip, a.pool, a.actor) == ("deprioritize", "203.0.113.1", "bulk", "engine")
    assert a.numbers["weight"] == 10.0
    # Still critical: no second action.
    m2, names = _check(m, CRIT, clock())
    assert m2 is m and names == []


def test_recovery_after_exactly_recover_checks_ok_checks() -> None:
    clock = FakeClock()
    m, _ = _check(_member(), CRIT, clock())
    m, names = _check(m, OK, clock() + 300)
    assert (m.state, m.healthy_checks, names) == ("deprioritized", 1, [])
    m, names = _check(m, OK, clock() + 600)
    assert (m.state, m.healthy_checks, m.weight, names) == ("deprioritized", 2, 10.0, [])
    m, names = _check(m, OK, clock() + 900)
    assert (m.state, m.weight, m.healthy_checks, names) == ("active", 100.0, 0, ["recover"])
    assert m.state_reason.startswith("recovered after 3 healthy checks")


def test_warning_breaks_the_streak_insufficient_does_not() -> None:
    m, _ = _check(_member(), CRIT, 0)
    m, _ = _check(m, OK, 1)
    m, _ = _check(m, OK, 2)
    m, _ = _check(m, WARN, 3)
    assert (m.state, m.healthy_checks) == ("deprioritized", 0)
    m, _ = _check(m, OK, 4)
    m, _ = _check(m, INSUF, 5)
    assert m.healthy_checks == 1
    m, _ = _check(m, OK, 6)
    m, _ = _check(m, CRIT, 7)
    assert (m.state, m.healthy_checks) == ("deprioritized", 0)
    for t in (8, 9):
        m, names = _check(m, OK, t)
        assert names == []
    m, names = _check(m, OK, 10)
    assert names == ["recover"]


def test_block_removes_and_removed_stays_removed() -> None:
    m, names = _check(_member(), BLOCK, 1)
    assert (m.state, m.weight, names) == ("removed", 0.0, ["remove"])
    for sev in (OK, OK, OK, OK, CRIT, BLOCK, WARN):
        m2, names = _check(m, sev, 2)
        assert m2 is m and names == []
    m, acts = restore(m, 3, actor="alice", reason="list cleaned")
    assert (m.state, m.weight, m.healthy_checks) == ("active", 100.0, 0)
    assert m.state_reason == "restored by alice: list cleaned"
    assert [(a.name, a.actor, a.numbers["from"]) for a in acts] == [("restore", "alice", "removed")]


def test_block_removes_a_deprioritized_member() -> None:
    m, _ = _check(_member(), CRIT, 1)
    m, names = _check(m, BLOCK, 2)
    assert (m.state, m.weight, names) == ("removed", 0.0, ["remove"])


def test_operator_remove_restore_errors() -> None:
    m = _member()
    with pytest.raises(ValueError, match="nothing to restore"):
        restore(m, 1, actor="bob")
    m, acts = remove(m, 1, actor="bob", reason="rDNS wrong")
    assert (m.state, m.weight, m.state_reason) == ("removed", 0.0, "removed by bob: rDNS wrong")
    assert [a.name for a in acts] == ["remove"]
    with pytest.raises(ValueError, match="already removed"):
        remove(m, 2, actor="bob")
    d, _ = _check(_member(), CRIT, 1)
    d, acts = restore(d, 2, actor="bob")
    assert (d.state, d.weight) == ("active", 100.0)


def test_set_weight_follows_state() -> None:
    assert set_weight(_member(), 50, 1, actor="bob").weight == 50
    d, _ = _check(_member(), CRIT, 1)
    d = set_weight(d, 200, 2, actor="bob")
    assert (d.base_weight, d.weight, d.state) == (200, 20.0, "deprioritized")
    r, _ = _check(_member(), BLOCK, 1)
    r = set_weight(r, 300, 2, actor="bob")
    assert (r.base_weight, r.weight) == (300, 0.0)
    with pytest.raises(ValueError):
        set_weight(_member(), -1, 1, actor="bob")


def test_warming_members_are_left_to_the_plan() -> None:
    w = start_warming(_member(base_weight=80.0, weight=80.0), 1)
    assert (w.state, w.weight) == ("warming", 80.0)
    for sev in (BLOCK, CRIT, OK):
        w2, names = _check(w, sev, 2)
        assert w2 is w and names == []
    a = complete_warmup(w, 3)
    assert (a.state, a.weight, a.state_reason, a.changed_at) == (
        "active",
        80.0,
        "warmup completed",
        3,
    )
    assert complete_warmup(a, 4) is a


def test_pool_capacity() -> None:
    members = [
        MemberState("bulk", "a", daily_cap=100_000),
        MemberState("bulk", "b", state="deprioritized", weight=10, daily_cap=5_000),
        MemberState("bulk", "c", state="removed", weight=0, daily_cap=70_000),
        MemberState("bulk", "d", state="warming"),
        MemberState("bulk", "e", state="warming"),  # no plan known: 0
        MemberState("bulk", "f"),  # no cap configured: 0
    ]
    assert pool_capacity(members, {"d": 500, "a": 999_999}) == 105_500
    assert pool_capacity([], {}) == 0
    assert uncapped(members) == ["f"]
