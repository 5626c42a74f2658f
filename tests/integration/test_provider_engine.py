"""One check on a real SQLite store: IP A bounces 40% at microsoft and 1% elsewhere, IP B 20%
everywhere. A is suspended at microsoft only (pool state stays active, suspended_until on its
microsoft row); B is removed IP-wide. Counts are exact against the events written."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.config import EngineConfig
from opsconsole.core.engine.check import run_check
from opsconsole.core.events import Event, Kind
from opsconsole.core.rotation import MemberState
from opsconsole.core.sources.base import ParseStats
from opsconsole.core.views import build_report
from opsconsole.storage.db import open_database
from opsconsole.storage.engine_store import MEMBERS, save_all
from opsconsole.storage.store import SqlStore

NOW = 1_800_000_000.0
A, B = "203.0.113.4", "203.0.113.5"


def traffic() -> list[Event]:
    evs: list[Event] = []
    ts = NOW - 600
    for ip, dom, n, bad in (
        (A, "outlook.com", 300, 120), (A, "gmail.com", 6000, 60),
        (B, "outlook.com", 300, 60), (B, "gmail.com", 700, 140),
    ):  # fmt: skip
        for i in range(n):
            kind = Kind.BOUNCED if i < bad else Kind.DELIVERED
            evs.append(Event(ts, kind, ip, None, False, dom, "5.7.1", "550 5.7.1 (S3150)"))
    return evs


def test_provider_block_acts_at_the_provider_only(tmp_path: Path) -> None:
    async def go() -> None:
        engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
        store = SqlStore(engine)
        agg = BatchAggregate()
        agg.add_all(traffic())
        await store.commit_batch(
            source="t", fmt="pmta", source_path="", agg=agg, stats=ParseStats(),
            checkpoint=None, expected=None, now=NOW,
        )  # fmt: skip
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO pool (name, created_at) VALUES ('main', 0)")
            await save_all(conn, MEMBERS, [MemberState("main", A), MemberState("main", B)])
        config = EngineConfig(host="h")
        _out, actions = await run_check(store, config, NOW, {})
        got = sorted((a["action"], a["ip"], a["provider"]) for a in actions)
        assert ("suspend_provider", A, "microsoft") in got
        assert ("remove", B, "") in got
        assert not any(a["ip"] == A and a["action"] == "remove" for a in actions)
        members = {m.ip: m.state for m in await store.members()}
        assert members == {A: "active", B: "removed"}
        rep = await build_report(store, config, now=NOW)
        rows = {(r["ip"], r["provider"]): r for r in rep["providers"]}
        assert (rows[(A, "microsoft")]["sent"], rows[(A, "microsoft")]["bounced"]) == (300, 120)
        assert (rows[(A, "google")]["sent"], rows[(A, "google")]["bounced"]) == (6000, 60)
        assert rows[(A, "microsoft")]["suspended_until"] is not None
        assert rows[(A, "google")]["suspended_until"] is None
        prov_alerts = [a for a in rep["alerts"] if a["provider"]]
        assert {(a["ip"], a["provider"]) for a in prov_alerts} >= {(A, "microsoft")}
        assert any(
            a["title"] == f"IP {A} blocked at microsoft: 40.00% of 300 sent" for a in prov_alerts
        )
        await store.close()

    asyncio.run(go())
