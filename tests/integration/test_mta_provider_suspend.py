"""Issue 12 point 1: a provider suspension lands in the MTA, on the journal's runner.

IP A bounces 40% at microsoft (1% at google): the engine's check suspends A at microsoft and
its journal row runs ``pmta disable source --reenable-after=6h A DOMAIN`` for each of the
provider table's microsoft domains (a ``pmta`` stand-in on PATH records argv); the expiry and
``opsconsole undo ID`` run ``pmta enable source``. KumoMTA: a kumod admin-API stand-in on
127.0.0.1 records the POST (name/reason/expires) and the DELETE of the id it returned. A
failing stand-in (exit 3 / HTTP 500) is retried with backoff and the audit holds every
attempt. SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.config import EngineConfig, MemberConfig, PoolConfig
from opsconsole.core.engine.check import run_check
from opsconsole.core.engine.journal import runner_for
from opsconsole.core.events import Event, Kind
from opsconsole.core.mta import KumoConfig, MtaConfig, PmtaConfig
from opsconsole.core.mta.kumo import iso
from opsconsole.core.providers import ProviderTable
from opsconsole.core.rotation import MemberState
from opsconsole.core.sources.base import ParseStats
from opsconsole.storage.db import open_database
from opsconsole.storage.engine_store import MEMBERS, save_all
from opsconsole.storage.store import SqlStore
from tests.helpers import kumod_api as kumod
from tests.helpers.clock import FakeClock
from tests.helpers.mta_standins import recorder

if TYPE_CHECKING:
    from tests.integration.conftest import Harness

kumod_api = kumod.kumod_api
A, B = "203.0.113.4", "203.0.113.5"
MICROSOFT = ProviderTable().domains_of("microsoft")  # the provider table's domains
SIX_HOURS = 6 * 3600.0
SITE = "(.+\\.)?protection\\.outlook\\.com"


def traffic(now: float) -> list[Event]:
    evs: list[Event] = []
    for ip, dom, n, bad in ((A, "outlook.com", 300, 120), (A, "gmail.com", 6000, 60),
                            (B, "gmail.com", 3000, 30)):  # fmt: skip
        for i in range(n):
            kind = Kind.BOUNCED if i < bad else Kind.DELIVERED
            evs.append(Event(now - 600, kind, ip, None, False, dom, "5.7.1", "550 5.7.1 (S3150)"))
    return evs


async def seeded(db_url: str, now: float) -> SqlStore:
    store = SqlStore(await open_database(db_url))
    agg = BatchAggregate()
    agg.add_all(traffic(now))
    await store.commit_batch(
        source="t", fmt="pmta", source_path="", agg=agg, stats=ParseStats(),
        checkpoint=None, expected=None, now=now,
    )  # fmt: skip
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO pool (name, created_at) VALUES ('bulk', 0)")
        await save_all(conn, MEMBERS, [MemberState("bulk", A), MemberState("bulk", B)])
    return store


POOLS = (PoolConfig("bulk", (MemberConfig(A, vmta="v4", source="ip-4"),
                             MemberConfig(B, vmta="v5", source="ip-5"))),)  # fmt: skip


def pmta_config(tmp: Path, env: dict[str, str]) -> EngineConfig:
    mta = MtaConfig("pmta", pmta=PmtaConfig(pools_file=str(tmp / "pools.conf"), pmta="pmta"),
                    min_interval=0.0, env=env)  # fmt: skip
    return EngineConfig(host="h", pools=POOLS, mta=mta)


async def provider_rows(store: SqlStore) -> list[tuple[str, int]]:
    async with store.engine.connect() as conn:
        res = await conn.exec_driver_sql(
            "SELECT state, attempts FROM journal WHERE kind = 'mta_provider' ORDER BY id"
        )
        return [(r[0], r[1]) for r in res]


def mta_audits(entries: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [a for a in entries if a["action"] == action]  # newest first


def test_pmta_suspend_expiry_and_retry(tmp_path: Path, db_url: str) -> None:
    assert {"outlook.com", "hotmail.com"} <= set(MICROSOFT)
    pmta = recorder(tmp_path / "bin", "pmta", fail_on=f"disable source --reenable-after=6h {A}")
    config = pmta_config(tmp_path, pmta.env())

    async def go() -> None:
        clock = FakeClock()
        store = await seeded(db_url, clock())
        _out, actions = await run_check(store, config, clock(), {})
        assert [(a["action"], a["ip"], a["provider"]) for a in actions] == [
            ("suspend_provider", A, "microsoft")
        ]
        runner = runner_for(config, store, "test", clock, lambda: True, dict)
        await runner.drain(10)
        # the first domain's disable failed: nothing to roll back, retried in 5 s
        assert await provider_rows(store) == [("pending", 1)]
        first = [A, MICROSOFT[0]]
        assert pmta.calls() == [["disable", "source", "--reenable-after=6h", *first]]
        pmta.fail("")
        clock.advance(5)
        await runner.drain(10)
        assert await provider_rows(store) == [("done", 2)]
        disables = pmta.calls()[1:]
        # 5 s later the suspension has 6h - 5s left: rounded up to whole minutes, 360m = 6h
        assert disables == [["disable", "source", "--reenable-after=6h", A, d] for d in MICROSOFT]
        audits = mta_audits(await store.audit_entries(), "mta.suspend_provider")
        assert [(a["actor"], a["ip"], a["reason"], a["detail"]["attempt"]) for a in audits] == [
            ("mta", A, "ok", 2),
            ("mta", A, f"step 1 failed: run pmta disable source --reenable-after=6h {A} "
                       f"{MICROSOFT[0]} (undo: pmta enable source {A} {MICROSOFT[0]})", 1),
        ]  # fmt: skip
        steps = audits[0]["detail"]["steps"]
        assert [s["step"] for s in steps] == [
            f"run pmta disable source --reenable-after=6h {A} {d} (undo: pmta enable source "
            f"{A} {d})" for d in MICROSOFT
        ]  # fmt: skip
        assert all(s["returncode"] == 0 and s["seconds"] >= 0 for s in steps)
        assert audits[1]["detail"]["steps"][0]["returncode"] == 3
        # a replayed row (at-least-once) does nothing more: the ledger has it
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(
                "UPDATE journal SET state = 'pending', next_at = 0 WHERE kind = 'mta_provider'"
            )
        await runner.drain(10)
        assert len(pmta.calls()) == 1 + len(MICROSOFT)
        # expiry: six hours on, no traffic in the window, the engine resumes A at microsoft
        clock.advance(SIX_HOURS)
        _out, actions = await run_check(store, config, clock(), {})
        assert [(a["action"], a["ip"]) for a in actions] == [("resume_provider", A)]
        await runner.drain(10)
        assert pmta.calls()[1 + len(MICROSOFT) :] == [["enable", "source", A, d] for d in MICROSOFT]
        [lift] = mta_audits(await store.audit_entries(), "mta.resume_provider")
        assert lift["reason"] == "ok" and lift["detail"]["op"] == "resume_provider"
        await store.close()

    asyncio.run(go())


def test_kumo_post_then_delete_of_the_returned_id(
    tmp_path: Path, db_url: str, kumod_api: kumod.KumodApi
) -> None:
    kumo = KumoConfig(
        sources_file=str(tmp_path / "s.toml"), shaping_file=str(tmp_path / "sh.toml"),
        base_url=kumod_api.base_url, provider_sites={"microsoft": SITE},
        sources={A: "ip-4", B: "ip-5"},
    )  # fmt: skip
    config = EngineConfig(host="h", pools=POOLS, mta=MtaConfig("kumo", kumo=kumo, min_interval=0))
    url = kumod_api.base_url + kumod.PATH

    async def go() -> None:
        clock = FakeClock()
        store = await seeded(db_url, clock())
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
            await run_check(store, config, clock(), {})
            runner = runner_for(config, store, "test", clock, lambda: True, dict, http)
            await runner.drain(10)
            posts = [c for c in kumod_api.calls if c[0] == "POST"]
            [(_m, path, body)] = posts
            assert path == kumod.PATH
            assert body["name"] == f"ip-4->{SITE}@smtp_client"
            assert body["expires"] == iso(clock() + SIX_HOURS)
            assert body["reason"].startswith("opsconsole: bounce 40.00% of 300 sent at microsoft")
            [sid] = list(kumod_api.active)
            [ok] = mta_audits(await store.audit_entries(), "mta.suspend_provider")
            assert ok["detail"]["steps"][0]["returncode"] == 200
            assert ok["detail"]["steps"][0]["step"].startswith(f"http POST {url} ")
            # the audit id of the engine's decision, undone in process through the verb
            [dec] = mta_audits(await store.audit_entries(), "suspend_provider")
            from opsconsole.core.engine import control

            res = await control.execute(store, config, "alice", "action.undo",
                                        {"id": str(dec["id"])}, clock=clock)  # fmt: skip
            assert res.ok, res.message
            await runner.drain(10)
            assert kumod_api.calls[-1] == ("DELETE", kumod.PATH, {"id": sid})
            assert kumod_api.active == {}
            [lift] = mta_audits(await store.audit_entries(), "mta.resume_provider")
            assert lift["reason"] == "ok"
            assert lift["detail"]["steps"][0]["step"] == f'http DELETE {url} {{"id":"{sid}"}}'
        await store.close()

    asyncio.run(go())


def test_kumo_http_500_is_retried_and_every_attempt_audited(
    tmp_path: Path, db_url: str, kumod_api: kumod.KumodApi
) -> None:
    kumo = KumoConfig(
        sources_file=str(tmp_path / "s.toml"), shaping_file=str(tmp_path / "sh.toml"),
        base_url=kumod_api.base_url, provider_sites={"microsoft": SITE}, sources={A: "ip-4"},
    )  # fmt: skip
    config = EngineConfig(host="h", pools=POOLS, mta=MtaConfig("kumo", kumo=kumo, min_interval=0))
    kumod_api.fail_posts = 2

    async def go() -> None:
        clock = FakeClock()
        store = await seeded(db_url, clock())
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
            await run_check(store, config, clock(), {})
            runner = runner_for(config, store, "test", clock, lambda: True, dict, http)
            for wait in (5.0, 10.0):
                await runner.drain(10)
                assert (await provider_rows(store))[0][0] == "pending"
                clock.advance(wait)
            await runner.drain(10)
            assert await provider_rows(store) == [("done", 3)]
        assert [c[0] for c in kumod_api.calls].count("POST") == 3
        assert len(kumod_api.active) == 1
        audits = mta_audits(await store.audit_entries(), "mta.suspend_provider")
        got = [(a["detail"]["attempt"], a["detail"]["steps"][0]["returncode"]) for a in audits]
        assert got == [(3, 200), (2, 500), (1, 500)]
        assert [a["reason"] for a in audits[1:]] == [
            f"step 1 failed: http POST {kumod_api.base_url}{kumod.PATH} "
            + audits[1]["detail"]["steps"][0]["step"].split(kumod.PATH + " ", 1)[1]
        ] * 2
        await store.close()

    asyncio.run(go())


def test_cli_mta_plan_then_undo_enables_the_source(tmp_path: Path, harness: Harness) -> None:
    """The real program: ``mta plan`` shows the disable commands before they run, ``undo``
    of the engine's suspension runs ``pmta enable source`` for each microsoft domain."""
    h = harness
    pmta = recorder(tmp_path / "bin", "pmta")
    h.write_config(
        '[mta]\nkind = "pmta"\nmin_interval = "0s"\n'
        f'path = "{pmta.folder}:{pmta.env()["PATH"]}"\n'
        f'[mta.pmta]\npools_file = "{tmp_path / "pools.conf"}"\npmta = "pmta"\n\n'
        '[[pools]]\nname = "bulk"\n'
        f'members = [{{ ip = "{A}", vmta = "v4" }}, {{ ip = "{B}", vmta = "v5" }}]\n'
    )
    config = pmta_config(tmp_path, pmta.env())

    async def decide() -> None:
        store = await seeded(h.db, time.time())
        await run_check(store, config, time.time(), {})
        await store.close()

    asyncio.run(decide())
    plan = h.cli("mta", "plan").stdout.splitlines()
    want = [
        f"suspend {A} at microsoft: run pmta disable source --reenable-after=6h {A} {d} "
        f"(undo: pmta enable source {A} {d})"
        for d in MICROSOFT
    ]
    assert [line for line in plan if line.startswith("suspend ")] == want
    assert pmta.calls() == [["show", "disabled", "sources"]]  # a plan only reads
    [dec] = [a for a in h.audit() if a["action"] == "suspend_provider"]
    dry = h.cli("undo", str(dec["id"]), "--dry-run").stdout.splitlines()
    assert [line for line in dry if line.startswith("mta: ")] == [
        f"mta: run pmta enable source {A} {d}" for d in MICROSOFT
    ]
    assert [c for c in pmta.calls() if c[0] != "show"] == []  # a dry run runs nothing
    res = h.cli("undo", str(dec["id"]), env={"USER": "alice"})
    assert res.stdout.startswith(f"undo of {dec['id']} (suspend_provider {A}): {A} resumed")
    # the suspension never reached the MTA (no engine ran its row): the pending suspend row
    # finds nothing wanted and does nothing; the undo's lift runs (enable is idempotent)
    enables = [c for c in pmta.calls() if c[0] == "enable"]
    assert enables == [["enable", "source", A, d] for d in MICROSOFT]
    assert not [c for c in pmta.calls() if c[0] == "disable"]
    audits = json.loads(h.cli("audit", "--json").stdout)
    lifts = [a for a in audits if a["action"] == "mta.resume_provider"]
    assert [(a["reason"], len(a["detail"]["steps"])) for a in lifts] == [("ok", len(MICROSOFT))]
    [late] = [a for a in audits if a["action"] == "mta.suspend_provider"]
    assert (late["reason"], late["detail"]["steps"]) == ("ok", [])
    assert late["detail"]["plan"] == [f"note: {A} at microsoft: no longer suspended"]


def test_a_row_cut_off_by_a_restart_runs_again(tmp_path: Path, db_url: str) -> None:
    """An engine died with the suspend row ``running``: the next leader runs it again."""
    pmta = recorder(tmp_path / "bin", "pmta")
    config = pmta_config(tmp_path, pmta.env())

    async def go() -> None:
        clock = FakeClock()
        store = await seeded(db_url, clock())
        await run_check(store, config, clock(), {})
        async with store.engine.begin() as conn:  # claimed by the engine that then died
            await conn.exec_driver_sql(
                "UPDATE journal SET state = 'running', attempts = 1, holder = 'dead'"
                " WHERE kind = 'mta_provider'"
            )
        await runner_for(config, store, "next", clock, lambda: True, dict).drain(10)
        assert await provider_rows(store) == [("done", 2)]
        assert pmta.calls() == [
            ["disable", "source", "--reenable-after=6h", A, d] for d in MICROSOFT
        ]
        await store.close()

    asyncio.run(go())
