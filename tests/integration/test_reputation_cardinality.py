"""A million junk IPs in the window must not become a million DNSBL lookups (issue 18.9):
the reputation run checks every pool member and warming IP, and of the IPs only seen in the
window the ``max_seen_ips`` that sent the most, read a chunk of IPs at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.config import EngineConfig
from opsconsole.core.events import Event, Kind
from opsconsole.core.reputation.job import ReputationConfig, ReputationService
from opsconsole.core.rotation import MemberState
from opsconsole.core.sources.base import ParseStats
from opsconsole.storage.db import open_database
from opsconsole.storage.engine_store import MEMBERS, save_all
from opsconsole.storage.store import SqlStore

NOW = 1_800_000_000.0


def test_seen_ips_are_capped_to_the_busiest(tmp_path: Path) -> None:
    async def go() -> None:
        engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
        store = SqlStore(engine)
        agg = BatchAggregate()
        events = []
        for i in range(3000):  # 3,000 junk IPs sending 1 each; ten busy ones
            events.append(Event(NOW - 120, Kind.DELIVERED, f"10.{i // 250}.{i % 250}.1"))
        for j in range(10):
            events += [Event(NOW - 120, Kind.DELIVERED, f"192.0.2.{j + 1}")] * (50 + j)
        agg.add_all(events)
        await store.commit_batch(
            source="t", fmt="pmta", source_path="", agg=agg, stats=ParseStats(),
            checkpoint=None, expected=None, now=NOW,
        )  # fmt: skip
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO pool (name, created_at) VALUES ('main', 0)")
            await save_all(conn, MEMBERS, [MemberState("main", "198.51.100.7")])  # no traffic
        config = EngineConfig(host="h")
        rep = ReputationConfig(zones=(), max_seen_ips=10)
        job = ReputationService(config, rep, store, store.reputation(), lambda: NOW)
        got = await job.monitored_ips(NOW)
        assert got == sorted(["198.51.100.7", *(f"192.0.2.{j + 1}" for j in range(10))])
        rep0 = ReputationConfig(zones=(), max_seen_ips=0)
        job0 = ReputationService(config, rep0, store, store.reputation(), lambda: NOW)
        assert await job0.monitored_ips(NOW) == ["198.51.100.7"]
        await store.close()

    asyncio.run(go())
