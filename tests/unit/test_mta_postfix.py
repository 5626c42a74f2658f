"""Postfix adapter: weighted randmap rendering, the empty-pool guard, and real ``postconf -c``
on a temporary config directory (the system Postfix is never started or reloaded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opsconsole.core.mta import MtaConfig, build_adapter
from opsconsole.core.mta.apply import Runner, apply
from opsconsole.core.mta.base import ActualMember, MemberView, MtaState, PoolView, Suspension, drift
from opsconsole.core.mta.postfix import (
    PostfixAdapter,
    PostfixConfig,
    parse_randmap,
    render_randmap,
    repetitions,
)
from tests.helpers.mta_standins import postfix_dir, recorder


def m(t: str, w: float, state: str = "active", base: float | None = None) -> MemberView:
    return MemberView(ip=f"203.0.113.{t[2:]}", weight=w, state=state, transport=t, base_weight=base)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([100, 100, 10], [10, 10, 1]),
        ([100, 50], [2, 1]),
        ([100, 33], [20, 7]),
        ([1000, 1], [20, 1]),
        ([0.5, 0.25], [2, 1]),
        ([100], [1]),
        ([], []),
    ],
)
def test_repetitions(weights: list[float], expected: list[int]) -> None:
    assert repetitions(weights) == expected


def test_randmap_weights_removed_and_deprioritized() -> None:
    pool = PoolView("bulk", (m("px5", 100), m("px6", 50), m("px7", 0, "removed")))
    assert render_randmap(pool) == ("randmap:{px5:,px5:,px6:}", False)
    shrunk = PoolView("bulk", (m("px5", 100), m("px6", 10, "deprioritized")))
    assert render_randmap(shrunk) == ("randmap:{" + "px5:," * 10 + "px6:}", False)


def test_empty_pool_keeps_the_member_with_the_highest_base_weight() -> None:
    pool = PoolView("bulk", (m("px5", 0, "removed", 100), m("px6", 0, "removed", 200)))
    assert render_randmap(pool) == ("randmap:{px6:}", True)
    adapter = PostfixAdapter(PostfixConfig({"bulk": "default_transport"}), Runner())
    plan = adapter.plan_pools([pool], MtaState(raw={"default_transport": "smtp"}))
    assert plan.empty_pool_guard == ("bulk",)
    assert plan.describe() == [
        "run postconf -e 'default_transport=randmap:{px6:}' "
        "(undo: postconf -e default_transport=smtp)",
        "run postfix reload",
        "guard: pool bulk has no active member; kept its last one",
    ]


def test_dry_run_lines_are_exact_and_stable() -> None:
    cfg = PostfixConfig({"bulk": "default_transport"}, config_dir="/etc/postfix-out")
    adapter = build_adapter(MtaConfig("postfix", postfix=cfg), Runner())
    pools = [PoolView("bulk", (m("px5", 100), m("px6", 50)))]
    current = MtaState(raw={"default_transport": "randmap:{px5:,px6:}"})
    expected = [
        "run postconf -c /etc/postfix-out -e 'default_transport=randmap:{px5:,px5:,px6:}' "
        "(undo: postconf -c /etc/postfix-out -e 'default_transport=randmap:{px5:,px6:}')",
        "run postfix reload",
    ]
    assert adapter.plan_pools(pools, current).describe() == expected
    assert adapter.plan_pools(pools, current).describe() == expected
    same = MtaState(raw={"default_transport": "randmap:{px5:,px5:,px6:}"})
    assert adapter.plan_pools(pools, same).steps == ()


def test_parse_randmap_counts() -> None:
    assert parse_randmap("randmap:{px5:, px5:,px6:}") == [
        ActualMember("px5", 2.0),
        ActualMember("px6", 1.0),
    ]
    assert parse_randmap("smtp") == [ActualMember("smtp", 1.0)]
    assert parse_randmap("hash:/etc/postfix/x y") == []


def test_suspend_and_quota_are_reported_unsupported() -> None:
    adapter = PostfixAdapter(PostfixConfig({"bulk": "default_transport"}), Runner())
    plan = adapter.plan_suspend(Suspension("203.0.113.5", "gmail", ("gmail.com",), 10.0, "x"), 0)
    assert plan.steps == ()
    assert plan.unsupported is not None and "no per-IP" in plan.unsupported


def _postconf_h(postconf: str, conf: Path, param: str) -> str:
    out = subprocess.run([postconf, "-c", str(conf), "-h", param], capture_output=True, text=True)
    return out.stdout.strip()


async def test_postconf_applies_reads_back_and_releases(tmp_path: Path) -> None:
    postconf, conf = postfix_dir(tmp_path)
    reload = recorder(tmp_path / "bin", "reload")
    cfg = PostfixConfig(
        {"bulk": "default_transport"},
        config_dir=str(conf),
        postconf=postconf,
        reload_command=(sys.executable, str(reload.path), "reload"),
    )
    adapter = PostfixAdapter(cfg, Runner())
    original = await adapter.capture_original()
    assert original == {"default_transport": {"value": "smtp", "explicit": False}}
    assert adapter.owned() == ["main.cf:default_transport"]

    pools = [PoolView("bulk", (m("px5", 100), m("px6", 50), m("px7", 0, "removed")))]
    before = await adapter.read_state()
    assert before.pools == {"bulk": (ActualMember("smtp", 1.0),)}
    result = await apply(adapter.plan_pools(pools, before).steps, Runner())
    assert result.ok, result
    assert [o.returncode for o in result.steps] == [0, 0]
    assert _postconf_h(postconf, conf, "default_transport") == "randmap:{px5:,px5:,px6:}"
    assert reload.calls() == [["reload"]]

    after = await adapter.read_state()
    assert after.pools == {"bulk": (ActualMember("px5", 2.0), ActualMember("px6", 1.0))}
    assert after.errors == ()
    assert drift(pools, after) == []

    released = await apply(adapter.plan_release(original).steps, Runner())
    assert released.ok
    n = subprocess.run(
        [postconf, "-c", str(conf), "-n", "default_transport"], capture_output=True, text=True
    )
    assert n.stdout == ""
    assert _postconf_h(postconf, conf, "default_transport") == "smtp"
    assert reload.calls() == [["reload"], ["reload"]]


async def test_read_state_reports_an_unknown_parameter(tmp_path: Path) -> None:
    postconf, conf = postfix_dir(tmp_path)
    cfg = PostfixConfig({"bulk": "no_such_param"}, config_dir=str(conf), postconf=postconf)
    state = await PostfixAdapter(cfg, Runner()).read_state()
    assert state.pools == {}
    assert len(state.errors) == 1 and "no_such_param" in state.errors[0]
