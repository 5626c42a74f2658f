"""Drift compares Postfix transports by name: a nexthop in main.cf or in the member's
``transport`` is not drift (issue 12 point 4); a missing or extra transport still is."""

from __future__ import annotations

from opsconsole.core.mta.base import MemberView, MtaState, PoolView, drift
from opsconsole.core.mta.postfix import parse_randmap, render_randmap


def pool(*transports: str) -> PoolView:
    return PoolView(
        "bulk",
        tuple(MemberView(f"127.0.0.{5 + i}", 100, transport=t) for i, t in enumerate(transports)),
    )


def state(value: str) -> MtaState:
    return MtaState(pools={"bulk": tuple(parse_randmap(value))})


def test_nexthop_in_main_cf_is_not_drift() -> None:
    assert drift([pool("px5", "px6")], state("randmap:{px5:[127.0.0.1]:2525,px6:}")) == []


def test_nexthop_in_the_member_is_not_drift() -> None:
    desired = pool("px5:[127.0.0.1]:2525", "px6")
    assert drift([desired], state("randmap:{px5:,px6:}")) == []
    value, _guard = render_randmap(desired)  # what opsconsole itself writes reads back clean
    assert value == "randmap:{px5:[127.0.0.1]:2525,px6:}"
    assert drift([desired], state(value)) == []


def test_a_different_transport_is_still_drift() -> None:
    got = [
        d.describe()
        for d in drift([pool("px5:[127.0.0.1]:2525", "px6")], state("randmap:{px7:,px6:}"))
    ]
    assert got == ["pool bulk: px5 missing", "pool bulk: px7 unexpected"]
