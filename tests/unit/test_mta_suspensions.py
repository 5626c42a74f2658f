"""core.mta.suspensions planned from desired state and ledger (no MTA touched): Postfix
records a suspension with no MTA call; PowerMTA's command prefix is configurable; a kumo
extension DELETEs the previous id; an applied suspension is not applied twice."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from opsconsole.core.mta import MtaConfig, PmtaConfig, PostfixConfig, build_adapter
from opsconsole.core.mta.apply import Runner
from opsconsole.core.mta.kumo import KumoConfig
from opsconsole.core.mta.suspensions import NO_MTA_CALL, Applied, ProviderSuspender
from opsconsole.core.provider_policy import Suspension

NOW = 1_800_000_000.0
IP = "192.0.2.7"


class Ledger:
    def __init__(self, rows: Mapping[tuple[str, str], Applied] | None = None) -> None:
        self.rows = dict(rows or {})
        self.log: list[Any] = []

    async def applied(self, kind: str) -> dict[tuple[str, str], Applied]:
        return dict(self.rows)

    async def record(self, kind: str, a: Applied, now: float) -> None:
        self.log.append(("record", kind, a))

    async def forget(self, kind: str, ip: str, provider: str) -> None:
        self.log.append(("forget", kind, ip, provider))


def suspender(mta: MtaConfig, ledger: Ledger, until: float | None) -> ProviderSuspender:
    runner = Runner(env={"PATH": "/nonexistent"})
    wanted = {} if until is None else {(IP, "microsoft"): Suspension(IP, "microsoft", until, "r")}

    async def want() -> dict[tuple[str, str], Suspension]:
        return wanted

    return ProviderSuspender(mta, build_adapter(mta, runner), runner, ledger, want,
                             lambda _p: ["outlook.com", "hotmail.com"], lambda: NOW)  # fmt: skip


def test_postfix_suspension_is_recorded_and_audited_without_an_mta_call() -> None:
    mta = MtaConfig("postfix", postfix=PostfixConfig(pool_parameters={"bulk": "x"}))
    ledger = Ledger()
    s = suspender(mta, ledger, NOW + 3600)
    ok, error, detail = asyncio.run(s({"action": "suspend_provider", "ip": IP,
                                       "provider": "microsoft"}))  # fmt: skip
    assert (ok, error, detail["steps"], detail["op"]) == (True, None, [], "suspend_provider")
    assert detail["plan"] == [f"note: {NO_MTA_CALL}"]
    assert ledger.log == []


def test_pmta_command_prefix_and_interval() -> None:
    mta = MtaConfig("pmta", pmta=PmtaConfig(command=("sudo", "-n", "/usr/sbin/pmta")))
    p = asyncio.run(suspender(mta, Ledger(), NOW + 5400).plan_one(IP, "microsoft", NOW))
    assert p.describe() == [
        f"run sudo -n /usr/sbin/pmta disable source --reenable-after=90m {IP} {d} "
        f"(undo: sudo -n /usr/sbin/pmta enable source {IP} {d})"
        for d in ("outlook.com", "hotmail.com")
    ]
    lift = asyncio.run(suspender(mta, Ledger(), None).plan_one(IP, "microsoft", NOW))
    assert lift.describe() == [
        f"run sudo -n /usr/sbin/pmta enable source {IP} {d}" for d in ("outlook.com", "hotmail.com")
    ]


def test_applied_once_and_kumo_extension_deletes_the_old_id() -> None:
    pm = MtaConfig("pmta")
    done = Ledger({(IP, "microsoft"): Applied(IP, "microsoft", NOW + 60)})
    p = asyncio.run(suspender(pm, done, NOW + 60).plan_one(IP, "microsoft", NOW))
    assert (p.atomic, p.notes) == ((), (f"{IP} at microsoft: already in the MTA",))
    kumo = MtaConfig("kumo", kumo=KumoConfig(base_url="http://127.0.0.1:9", sources={IP: "s7"},
                                             provider_sites={"microsoft": "site"}))  # fmt: skip
    old = Ledger({(IP, "microsoft"): Applied(IP, "microsoft", NOW + 60, ("old-id",))})
    p = asyncio.run(suspender(kumo, old, NOW + 120).plan_one(IP, "microsoft", NOW))
    url = "http://127.0.0.1:9/api/admin/suspend-ready-q/v1"
    assert p.describe() == [
        f'http POST {url} {{"expires":"2027-01-15T08:02:00Z","name":"s7->site@smtp_client",'
        f'"reason":"opsconsole: r"}} (undo: DELETE {url} {{}} +id)',
        f'http DELETE {url} {{"id":"old-id"}}',
    ]
