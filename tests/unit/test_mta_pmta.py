"""PowerMTA adapter: the managed pools file line by line, and every ``pmta`` call through a
stand-in first on PATH that records its argv (PowerMTA itself cannot be installed)."""

from __future__ import annotations

from pathlib import Path

from opsconsole.core.mta.apply import Runner, apply
from opsconsole.core.mta.base import (
    ActualMember,
    ActualSuspension,
    MemberView,
    MtaState,
    PoolView,
    Quota,
    Suspension,
    drift,
)
from opsconsole.core.mta.pmta import PmtaAdapter, PmtaConfig, interval, parse_disabled
from tests.helpers.mta_standins import recorder

NOW = 1_772_000_000.0


def member(n: int, state: str = "active", weight: float = 100) -> MemberView:
    return MemberView(f"203.0.113.{n}", weight, state, vmta=f"vmta{n}", base_weight=100)


POOLS = [
    PoolView("bulk", (member(1), member(2, "deprioritized", 10), member(3, "removed", 0))),
    PoolView("tx", (member(4),)),
]


def adapter(tmp_path: Path, **kw: object) -> PmtaAdapter:
    cfg = PmtaConfig(pools_file=str(tmp_path / "pools.conf"), **kw)  # type: ignore[arg-type]  # test-only kwargs passthrough
    return PmtaAdapter(cfg, Runner(env=recorder(tmp_path / "bin", "pmta").env()))


def test_rendered_file_follows_the_directive_syntax(tmp_path: Path) -> None:
    plan = adapter(tmp_path).plan_pools(POOLS, MtaState())
    content = plan.steps[0].content  # type: ignore[union-attr]  # first step is the WriteFile
    assert content.splitlines() == [
        "# Managed by opsconsole: rotation pools and warmup rates. Edits are overwritten.",
        "<virtual-mta-pool bulk>",
        "    virtual-mta vmta1",
        "    virtual-mta vmta2",
        "</virtual-mta-pool>",
        "",
        "<virtual-mta-pool tx>",
        "    virtual-mta vmta4",
        "</virtual-mta-pool>",
    ]
    assert plan.describe()[1:] == [
        "run pmta reload",
        "note: vmta2: PowerMTA pools are round-robin without weights; "
        "a deprioritized member keeps an equal share",
    ]


def test_quota_is_a_max_msg_rate_inside_the_owned_virtual_mta(tmp_path: Path) -> None:
    a = adapter(tmp_path, own_vmtas={"vmta4": "mta4.example.net"})
    quotas = [Quota("203.0.113.4", per_day=1000), Quota("203.0.113.1", 500, per_hour=50)]
    plan = a.plan_quotas(quotas, POOLS, MtaState())
    content = plan.steps[0].content  # type: ignore[union-attr]  # first step is the WriteFile
    assert content.splitlines()[1:7] == [
        "<virtual-mta vmta4>",
        "    smtp-source-host 203.0.113.4 mta4.example.net",
        "    <domain *>",
        "        max-msg-rate 42/h",
        "    </domain>",
        "</virtual-mta>",
    ]
    assert "note: quota for 203.0.113.1 needs vmta1 in own_vmtas; not applied" in plan.describe()


def test_empty_pool_guard(tmp_path: Path) -> None:
    pool = PoolView(
        "bulk",
        (
            member(1, "removed", 0),
            MemberView("203.0.113.2", 0, "removed", vmta="vmta2", base_weight=300),
        ),
    )
    plan = adapter(tmp_path).plan_pools([pool], MtaState())
    assert plan.empty_pool_guard == ("bulk",)
    assert "    virtual-mta vmta2\n" in plan.steps[0].content  # type: ignore[union-attr]  # WriteFile


async def test_apply_writes_reloads_and_reads_back(tmp_path: Path) -> None:
    a = adapter(tmp_path)
    pmta = recorder(tmp_path / "bin", "pmta")
    pmta.show.write_text(
        "Source          Domain           Re-enable\n"
        "203.0.113.2     gmail.com        2026-03-02 12:00:00\n"
        "203.0.113.1     yahoo.com/vmta1  never\n"
    )
    original = await a.capture_original()
    assert original == {str(tmp_path / "pools.conf"): None}
    result = await apply(a.plan_pools(POOLS, await a.read_state()).steps, a.runner)
    assert result.ok, result
    assert pmta.calls() == [["show", "disabled", "sources"], ["reload"]]
    state = await a.read_state()
    assert state.pools == {
        "bulk": (ActualMember("vmta1", 1.0), ActualMember("vmta2", 1.0)),
        "tx": (ActualMember("vmta4", 1.0),),
    }
    assert state.suspensions == (
        ActualSuspension("203.0.113.2", "gmail.com"),
        ActualSuspension("203.0.113.1", "yahoo.com/vmta1"),
    )
    assert drift(POOLS, state) == []
    assert a.plan_pools(POOLS, state).steps == ()

    released = await apply(a.plan_release(original).steps, a.runner)
    assert released.ok
    assert not (tmp_path / "pools.conf").exists()


async def test_failed_reload_restores_the_previous_file(tmp_path: Path) -> None:
    a = adapter(tmp_path)
    (tmp_path / "pools.conf").write_text("# old\n")
    recorder(tmp_path / "bin", "pmta", fail_on="reload")
    result = await apply(a.plan_pools(POOLS, MtaState()).steps, a.runner)
    assert not result.ok
    assert (tmp_path / "pools.conf").read_text() == "# old\n"


async def test_suspend_one_call_per_domain_with_rollback(tmp_path: Path) -> None:
    a = adapter(tmp_path)
    pmta = recorder(
        tmp_path / "bin",
        "pmta",
        fail_on="disable source --reenable-after=2h 203.0.113.5 googlemail.com",
    )
    s = Suspension("203.0.113.5", "gmail", ("gmail.com", "googlemail.com"), NOW + 7200, "block")
    plan = a.plan_suspend(s, NOW)
    assert plan.describe() == [
        "run pmta disable source --reenable-after=2h 203.0.113.5 gmail.com "
        "(undo: pmta enable source 203.0.113.5 gmail.com)",
        "run pmta disable source --reenable-after=2h 203.0.113.5 googlemail.com "
        "(undo: pmta enable source 203.0.113.5 googlemail.com)",
    ]
    result = await apply(plan.steps, a.runner)
    assert not result.ok
    assert pmta.calls() == [
        ["disable", "source", "--reenable-after=2h", "203.0.113.5", "gmail.com"],
        ["disable", "source", "--reenable-after=2h", "203.0.113.5", "googlemail.com"],
        ["enable", "source", "203.0.113.5", "gmail.com"],
    ]
    resume = a.plan_resume("203.0.113.5", "gmail", ["gmail.com"], MtaState())
    assert resume.describe() == ["run pmta enable source 203.0.113.5 gmail.com"]


def test_interval_and_show_parsing() -> None:
    assert [interval(s) for s in (7200, 5400, 61, 1, 86400)] == ["2h", "90m", "2m", "1m", "24h"]
    assert parse_disabled("no sources are disabled\n") == []
