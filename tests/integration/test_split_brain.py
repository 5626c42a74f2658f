"""Issue 18.2: a check longer than the lease never gives two acting engines.

Two real engines (``make_runtime`` on one SQLite file, real clock, lease TTL 1 s) follow
the same traffic. Engine A's check is made slow by a store that sleeps after it loaded the engine
state (what 45 s over many IPs does for real). Two cases:

* A renews its lease during the long check (the keep-alive): B never takes over, and the
  decisions (alerts, audit entries, hook runs, outbox rows) exist exactly once.
* A cannot renew (its renewals fail, as across a partition): B takes over after the TTL
  and decides; A's long check then finds its lease epoch gone and commits nothing. Still
  exactly one set of alerts, audits, hooks and notices.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from opsconsole.core.engine.setup import apply_config
from opsconsole.core.warmup import PlanState
from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.wiring import engine_config, make_runtime

TTL = 1.0


class SlowStore(SqlStore):
    """A real store whose window read takes ``delay`` seconds (once ``slow`` is set), and
    whose lease renewals can be made to fail."""

    slow = False
    delay = 3 * TTL
    partition = False  # renewals fail once the slow check has begun
    cut_off = False

    async def warmup_sent_today(self, plans: Iterable[PlanState], hi: int) -> dict[str, int]:
        # After the engine state is loaded: the decision is made on what A saw before the
        # sleep, as a long check over many IPs does.
        if self.slow:
            self.cut_off = self.partition
            await asyncio.sleep(self.delay)
        return await super().warmup_sent_today(plans, hi)

    async def acquire_or_renew(self, *args: Any, **kwargs: Any) -> int | None:
        if self.cut_off:
            raise OperationalError("partitioned", None, Exception("partitioned"))
        return await super().acquire_or_renew(*args, **kwargs)


def write_traffic(events: Path) -> None:
    now = time.time()
    with events.open("a") as f:
        for i in range(100):  # 30% bounces: remove the IP from its pool
            kind = "bounced" if i < 30 else "delivered"
            f.write(json.dumps({"ts": now - 200 + i, "kind": kind, "ip": "192.0.2.7"}) + "\n")


def settings(tmp_path: Path) -> Settings:
    events = tmp_path / "events.jsonl"
    events.touch()
    hooks = tmp_path / "hooks.log"
    return Settings(
        db=f"sqlite+aiosqlite:///{tmp_path / 'sb.db'}",
        sources=[{"name": "ev", "format": "jsonl", "path": str(events)}],
        pools=[{"name": "bulk", "members": [{"ip": "192.0.2.7"}, {"ip": "192.0.2.8"}]}],
        monitor={"lease_ttl": f"{TTL:g}s", "check_interval": "1s"},
        notify=[{"kind": "webhook", "url": "http://127.0.0.1:9/hook", "name": "ops"}],
        actions=[{"on": ["remove"], "run": ["/bin/sh", "-c", f"echo {{ip}} >> {hooks}"]}],
    )


def counts(db: Path, hooks: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        one = lambda q: int(con.execute(q).fetchone()[0])  # noqa: E731
        return {
            "alerts": one("SELECT count(*) FROM alert"),
            "removals": one("SELECT count(*) FROM audit WHERE action = 'remove'"),
            "outbox": one("SELECT count(*) FROM outbox"),
            "hooks": len(hooks.read_text().splitlines()) if hooks.exists() else 0,
        }
    finally:
        con.close()


async def run_pair(tmp_path: Path, *, cut_off: bool) -> tuple[dict[str, int], list[str]]:
    s = settings(tmp_path)
    store_a = SlowStore(await open_database(s.db))
    store_b = SqlStore(await open_database(s.db))
    a = make_runtime(s.model_copy(update={"host": "a"}), store_a, poll_interval=0.2)
    b = make_runtime(s.model_copy(update={"host": "b"}), store_b, poll_interval=0.2)
    roles: list[str] = []
    try:
        await apply_config(store_a, engine_config(s), time.time())
        await a.tick()  # A leads; nothing to judge yet
        assert a.role == "leader"
        write_traffic(tmp_path / "events.jsonl")
        store_a.slow = True
        store_a.partition = cut_off
        slow_check = asyncio.create_task(a.tick(force_check=True))
        while not slow_check.done():  # B tries every 0.2 s while A's check runs
            summary = await b.tick()
            roles.append(summary.role)
            await asyncio.sleep(0.2)
        await slow_check
        store_a.slow = store_a.partition = store_a.cut_off = False
        for _ in range(3):  # both settle; whoever leads checks again (nothing new happens)
            await a.tick(force_check=True)
            await b.tick(force_check=True)
        await asyncio.sleep(0.5)  # hooks finish
        return counts(tmp_path / "sb.db", tmp_path / "hooks.log"), roles
    finally:
        await a.close()
        await b.close()
        await store_a.close()
        await store_b.close()


async def test_a_renewing_leader_keeps_the_lease_through_a_long_check(tmp_path: Path) -> None:
    got, roles = await run_pair(tmp_path, cut_off=False)
    assert set(roles) == {"follower"}  # B never led while A's check ran
    assert got == {"alerts": 1, "removals": 1, "outbox": 1, "hooks": 1}


async def test_a_leader_that_cannot_renew_commits_nothing(tmp_path: Path) -> None:
    got, roles = await run_pair(tmp_path, cut_off=True)
    assert "leader" in roles  # B took over once A's lease expired
    assert got == {"alerts": 1, "removals": 1, "outbox": 1, "hooks": 1}
