"""KumoMTA adapter against a local kumod admin-API stand-in on 127.0.0.1 and real files:
the sources file the ``policy-extras.sources`` helper reads, ready-queue suspensions with
their ids, and rollback of an HTTP step."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from opsconsole.core.mta import MtaConfig, build_adapter
from opsconsole.core.mta.apply import Runner, apply
from opsconsole.core.mta.base import (
    ActualMember,
    MemberView,
    MtaState,
    PoolView,
    Quota,
    Run,
    Suspension,
    drift,
)
from opsconsole.core.mta.kumo import KumoAdapter, KumoConfig
from tests.helpers import kumod_api as kumod

kumod_api = kumod.kumod_api
NOW = 1_772_000_000.0  # 2026-02-25T06:13:20Z
SITE = "(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com"
POOLS = [
    PoolView(
        "bulk",
        (
            MemberView("10.0.0.1", 100, source="ip-1"),
            MemberView("10.0.0.2", 10, "deprioritized", source="ip-2"),
            MemberView("10.0.0.3", 0, "removed", source="ip-3"),
        ),
    )
]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as c:
        yield c


def make(tmp_path: Path, api: kumod.KumodApi, client: httpx.AsyncClient) -> KumoAdapter:
    cfg = KumoConfig(
        sources_file=str(tmp_path / "sources.toml"),
        shaping_file=str(tmp_path / "shaping.toml"),
        base_url=api.base_url,
        provider_sites={"gmail": SITE},
        sources={"10.0.0.1": "ip-1", "10.0.0.2": "ip-2", "10.0.0.3": "ip-3"},
        ehlo_domains={"ip-1": "mta1.example.com"},
    )
    adapter = build_adapter(MtaConfig("kumo", kumo=cfg), Runner(client))
    assert isinstance(adapter, KumoAdapter)
    return adapter


async def test_sources_file_shape_apply_and_read_back(
    tmp_path: Path, kumod_api: kumod.KumodApi, client: httpx.AsyncClient
) -> None:
    a = make(tmp_path, kumod_api, client)
    quotas = [Quota("10.0.0.2", per_day=1000)]
    plan = a.plan_pools(POOLS, MtaState(), quotas)
    result = await apply(plan.steps, a.runner)
    assert result.ok, result
    text = (tmp_path / "sources.toml").read_text()
    assert text.splitlines() == [
        "# Managed by opsconsole. Edits are overwritten.",
        "",
        '[source."ip-1"]',
        'source_address = "10.0.0.1"',
        'ehlo_domain = "mta1.example.com"',
        "",
        '[source."ip-2"]',
        'source_address = "10.0.0.2"',
        "",
        '[source."ip-3"]',
        'source_address = "10.0.0.3"',
        "",
        '[pool."bulk"]',
        "",
        '[pool."bulk"."ip-1"]',
        "weight = 10",
        "",
        '[pool."bulk"."ip-2"]',
        "weight = 1",
    ]
    assert tomllib.loads(text)["pool"] == {"bulk": {"ip-1": {"weight": 10}, "ip-2": {"weight": 1}}}
    shaping = tomllib.loads((tmp_path / "shaping.toml").read_text())
    assert shaping == {
        "default": {
            "sources": {
                "ip-2": {
                    "additional_source_selection_rates": {
                        "opsconsole-day-ip-2": "1000/day,max_burst=1",
                        "opsconsole-hour-ip-2": "42/hour,max_burst=1",
                    }
                }
            }
        }
    }
    state = await a.read_state()
    assert state.errors == ()
    assert state.pools == {
        "bulk": (ActualMember("ip-1", 10.0, "10.0.0.1"), ActualMember("ip-2", 1.0, "10.0.0.2"))
    }
    assert drift(POOLS, state) == []
    assert a.plan_pools(POOLS, state, quotas).steps == ()
    assert kumod_api.calls == [("GET", "/api/admin/suspend-ready-q/v1", None)]


async def test_suspend_list_and_resume_by_id(
    tmp_path: Path, kumod_api: kumod.KumodApi, client: httpx.AsyncClient
) -> None:
    a = make(tmp_path, kumod_api, client)
    s = Suspension("10.0.0.1", "gmail", ("gmail.com",), NOW + 3600, "gmail block 421")
    plan = a.plan_suspend(s, NOW)
    url = f"{kumod_api.base_url}/api/admin/suspend-ready-q/v1"
    assert plan.describe() == [
        f'http POST {url} {{"expires":"2026-02-25T07:13:20Z","name":"ip-1->{SITE}@smtp_client",'
        f'"reason":"opsconsole: gmail block 421"}} (undo: DELETE {url} {{}} +id)'
    ]
    result = await apply(plan.steps, a.runner)
    assert result.ok, result
    (sid,) = kumod_api.active
    assert result.steps[0].response == {"id": sid}

    state = await a.read_state()
    assert [(x.target, x.where, x.id) for x in state.suspensions] == [("ip-1", SITE, sid)]
    resume = a.plan_resume("10.0.0.1", "gmail", ["gmail.com"], state)
    assert resume.describe() == [f'http DELETE {url} {{"id":"{sid}"}}']
    assert (await apply(resume.steps, a.runner)).ok
    assert kumod_api.active == {}
    assert kumod_api.calls[-1] == ("DELETE", "/api/admin/suspend-ready-q/v1", {"id": sid})


async def test_a_later_failure_lifts_the_suspension_just_made(
    tmp_path: Path, kumod_api: kumod.KumodApi, client: httpx.AsyncClient
) -> None:
    a = make(tmp_path, kumod_api, client)
    s = Suspension("10.0.0.2", "gmail", (), NOW + 600, "spam block")
    steps = [*a.plan_suspend(s, NOW).steps, Run((sys.executable, "-c", "raise SystemExit(2)"))]
    result = await apply(steps, a.runner)
    assert not result.ok
    assert kumod_api.active == {}
    methods = [c[0] for c in kumod_api.calls]
    assert methods == ["POST", "DELETE"]
    answer = result.steps[0].response
    assert isinstance(answer, dict)
    assert kumod_api.calls[1][2] == {"id": answer["id"]}
    assert result.rolled_back[0].returncode == 200


async def test_unknown_provider_and_unreachable_kumod(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    cfg = KumoConfig(
        sources_file=str(tmp_path / "s.toml"),
        shaping_file=str(tmp_path / "sh.toml"),
        base_url="http://127.0.0.1:9",
    )
    a = KumoAdapter(cfg, Runner(client))
    plan = a.plan_suspend(Suspension("10.0.0.1", "yahoo", (), NOW + 60, "x"), NOW)
    assert plan.unsupported == "no [mta.kumo] provider_sites entry for yahoo"
    state = await a.read_state()
    assert state.pools == {}
    assert len(state.errors) == 3
