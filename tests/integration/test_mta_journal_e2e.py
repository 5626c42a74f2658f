"""Issue 12 point 2 for PowerMTA and KumoMTA end to end: the engine's check removes an IP, the
journal row of that decision runs the adapter (a ``pmta`` stand-in on PATH recording argv;
the kumo sources file), a failure is retried with backoff and, given up, alerts; after a
success the audit holds each step with its exit code and duration. FakeClock throughout."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.config import EngineConfig, MemberConfig, PoolConfig
from opsconsole.core.engine.check import run_check
from opsconsole.core.engine.journal import runner_for
from opsconsole.core.events import Event, Kind
from opsconsole.core.mta import KumoConfig, MtaConfig, PmtaConfig
from opsconsole.core.rotation import MemberState
from opsconsole.core.sources.base import ParseStats
from opsconsole.storage.db import open_database
from opsconsole.storage.engine_store import MEMBERS, save_all
from opsconsole.storage.store import SqlStore
from tests.helpers.clock import FakeClock
from tests.helpers.mta_standins import recorder

GOOD, BAD = "192.0.2.10", "192.0.2.11"


async def seeded(tmp: Path, clock: FakeClock) -> SqlStore:
    store = SqlStore(await open_database(f"sqlite+aiosqlite:///{tmp / 'j.db'}"))
    agg = BatchAggregate()
    for ip, bounced in ((GOOD, 3), (BAD, 90)):  # 1% and 30% of 300
        agg.add_all(
            Event(clock() - 600, Kind.BOUNCED if i < bounced else Kind.DELIVERED, ip, None,
                  False, "example.org")
            for i in range(300)
        )  # fmt: skip
    await store.commit_batch(
        source="t", fmt="jsonl", source_path="", agg=agg, stats=ParseStats(),
        checkpoint=None, expected=None, now=clock(),
    )  # fmt: skip
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO pool (name, created_at) VALUES ('bulk', 0)")
        await save_all(conn, MEMBERS, [MemberState("bulk", GOOD), MemberState("bulk", BAD)])
    return store


def pools(**handle: str) -> tuple[PoolConfig, ...]:
    key = next(iter(handle))
    return (
        PoolConfig("bulk", (MemberConfig(GOOD, **{key: f"{handle[key]}10"}),
                            MemberConfig(BAD, **{key: f"{handle[key]}11"}))),
    )  # fmt: skip


async def journal_rows(store: SqlStore) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        res = await conn.exec_driver_sql(
            "SELECT state, attempts, next_at, last_error FROM journal WHERE kind = 'mta'"
        )
        return [dict(r._mapping) for r in res]


def test_pmta_removal_through_the_journal_with_backoff_and_audit(tmp_path: Path) -> None:
    pmta = recorder(tmp_path, "pmta", fail_on="reload")
    pools_file = tmp_path / "pools.conf"
    config = EngineConfig(
        host="h", pools=pools(vmta="vmta-"),
        mta=MtaConfig("pmta", pmta=PmtaConfig(pools_file=str(pools_file), pmta="pmta"),
                      min_interval=0.0, env=pmta.env()),
    )  # fmt: skip

    async def go() -> None:
        clock = FakeClock()
        store = await seeded(tmp_path, clock)
        _out, actions = await run_check(store, config, clock(), {})
        assert [(a["action"], a["ip"]) for a in actions] == [("remove", BAD)]
        runner = runner_for(config, store, "test", clock, lambda: True, dict)
        await runner.drain(10)
        # reload failed: the file write was rolled back (never half-applied), retry in 5 s
        assert await journal_rows(store) == [{
            "state": "pending", "attempts": 1, "next_at": clock() + 5.0,
            "last_error": "step 2 failed: run pmta reload",
        }]  # fmt: skip
        assert not pools_file.exists()
        clock.advance(5)
        await runner.drain(10)
        assert [(r["attempts"], r["next_at"]) for r in await journal_rows(store)] == [
            (2, clock() + 10.0)
        ]
        pmta.fail("")
        clock.advance(10)
        await runner.drain(10)
        assert [r["state"] for r in await journal_rows(store)] == ["done"]
        text = pools_file.read_text()
        assert "<virtual-mta-pool bulk>" in text and "virtual-mta vmta-10" in text
        assert "vmta-11" not in text
        assert pmta.calls()[-1] == ["reload"]
        applies = [a for a in await store.audit_entries() if a["action"] == "mta.apply"]
        ok = applies[0]  # newest first
        assert (ok["actor"], ok["reason"], ok["detail"]["attempt"]) == ("mta", "ok", 3)
        steps = ok["detail"]["steps"]
        assert [s["step"].split(" ")[:2] for s in steps] == [
            ["write", str(pools_file)],
            ["run", "pmta"],
        ]
        assert steps[1]["step"] == "run pmta reload" and steps[1]["returncode"] == 0
        assert all(s["ok"] and s["seconds"] >= 0 for s in steps)
        assert [a["reason"] for a in applies[1:]] == ["step 2 failed: run pmta reload"] * 2
        assert applies[1]["detail"]["steps"][1]["returncode"] == 3
        await store.close()

    asyncio.run(go())


def test_pmta_given_up_after_five_attempts_alerts(tmp_path: Path) -> None:
    pmta = recorder(tmp_path, "pmta", fail_on="reload")
    config = EngineConfig(
        host="h", pools=pools(vmta="vmta-"),
        mta=MtaConfig("pmta", pmta=PmtaConfig(pools_file=str(tmp_path / "p.conf"), pmta="pmta"),
                      min_interval=0.0, env=pmta.env()),
    )  # fmt: skip

    async def go() -> None:
        clock = FakeClock()
        store = await seeded(tmp_path, clock)
        await run_check(store, config, clock(), {})
        runner = runner_for(config, store, "test", clock, lambda: True, dict)
        waits = []
        for _ in range(5):
            await runner.drain(10)
            rows = await journal_rows(store)
            if rows[0]["state"] == "failed":
                break
            waits.append(rows[0]["next_at"] - clock())
            clock.advance(rows[0]["next_at"] - clock())
        assert waits == [5.0, 10.0, 20.0, 40.0]
        assert [(r["state"], r["attempts"]) for r in await journal_rows(store)] == [("failed", 5)]
        alerts = [a for a in await store.alerts("firing") if a["rule"] == "journal_failed"]
        assert [(a["severity"], a["ip"]) for a in alerts] == [("critical", "mta")]
        await store.close()

    asyncio.run(go())


def test_kumo_removal_takes_the_source_out_through_the_journal(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    config = EngineConfig(
        host="h", pools=pools(source="ip-"),
        mta=MtaConfig("kumo", kumo=KumoConfig(sources_file=str(sources),
                      shaping_file=str(tmp_path / "shaping.toml")), min_interval=0.0),
    )  # fmt: skip

    async def go() -> None:
        clock = FakeClock()
        store = await seeded(tmp_path, clock)
        await run_check(store, config, clock(), {})
        await runner_for(config, store, "test", clock, lambda: True, dict).drain(10)
        assert [r["state"] for r in await journal_rows(store)] == ["done"]
        data = tomllib.loads(sources.read_text())
        weights = {name: src["weight"] for name, src in data["pool"]["bulk"].items()}
        assert weights == {"ip-10": 1}  # ip-11 out of the pool (kumo: the same as weight 0)
        [ok] = [a for a in await store.audit_entries() if a["action"] == "mta.apply"]
        assert ok["reason"] == "ok" and ok["detail"]["steps"][0]["step"].startswith(
            f"write {sources}"
        )
        await store.close()

    asyncio.run(go())
