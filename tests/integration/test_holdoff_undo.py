"""Issue 12 point 3 through the real check on a real store (SQLite and PostgreSQL), time on a
FakeClock: an operator's restore holds (the engine alerts but does not remove again) until
the rate is clearly worse or the hold-off ends; removals by the engine expire (back when
healthy, extended when not); ``undo`` reverts an action once, the engine's own included."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.config import EngineConfig, MonitorConfig
from opsconsole.core.engine.check import run_check
from opsconsole.core.engine.control import execute
from opsconsole.core.events import Event, Kind
from opsconsole.core.rotation import MemberState
from opsconsole.core.sources.base import ParseStats
from opsconsole.storage.db import open_database
from opsconsole.storage.engine_store import MEMBERS, save_all
from opsconsole.storage.store import SqlStore
from tests.helpers.clock import FakeClock

IP = "203.0.113.9"
CONFIG = EngineConfig(host="h", monitor=MonitorConfig(restore_holdoff=1800.0))


async def add_traffic(store: SqlStore, at: float, sent: int, bounced: int) -> None:
    agg = BatchAggregate()
    agg.add_all(
        Event(at, Kind.BOUNCED if i < bounced else Kind.DELIVERED, IP, None, False, "example.org")
        for i in range(sent)
    )
    await store.commit_batch(
        source="t", fmt="jsonl", source_path="", agg=agg, stats=ParseStats(),
        checkpoint=None, expected=None, now=at,
    )  # fmt: skip


async def fresh(db_url: str, clock: FakeClock) -> SqlStore:
    store = SqlStore(await open_database(db_url))
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO pool (name, created_at) VALUES ('main', 0)")
        await save_all(conn, MEMBERS, [MemberState("main", IP)])
    return store


async def state(store: SqlStore) -> str:
    return {m.ip: m.state for m in await store.members()}[IP]


async def check(store: SqlStore, clock: FakeClock) -> list[tuple[str, str]]:
    _out, actions = await run_check(store, CONFIG, clock(), {})
    return [(a["action"], a["actor"]) for a in actions]


async def operator(store: SqlStore, clock: FakeClock, verb: str, **args: Any) -> tuple[bool, str]:
    res = await execute(
        store, CONFIG, "alice", verb, {"pool": "main", "ip": IP, **args}, clock=clock
    )
    return res.ok, res.message


def rows(store: SqlStore, table: str) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    async def go() -> list[dict[str, Any]]:
        async with store.engine.connect() as conn:
            res = await conn.exec_driver_sql(f"SELECT * FROM {table}")
            return [dict(r._mapping) for r in res]

    return go


def run(db_url: str, body: Callable[[SqlStore, FakeClock], Awaitable[None]]) -> None:
    async def go() -> None:
        clock = FakeClock()
        store = await fresh(db_url, clock)
        try:
            await body(store, clock)
        finally:
            await store.close()

    asyncio.run(go())


def test_restore_by_hand_holds_until_clearly_worse(db_url: str) -> None:
    async def body(store: SqlStore, clock: FakeClock) -> None:
        await add_traffic(store, clock() - 600, 300, 60)  # 20%: block
        assert await check(store, clock) == [("remove", "engine")]
        ok, msg = await operator(store, clock, "pool.restore")
        assert ok and msg == "restored by alice; hold-off 30m", msg
        [h] = await rows(store, "restore_holdoff")()
        assert (h["until"], h["actor"], h["bounce_rate"]) == (clock() + 1800, "alice", 0.2)
        for _ in range(3):  # same 20%: the engine alerts but does not remove again
            clock.advance(60)
            assert await check(store, clock) == []
            assert await state(store) == "active"
        open_alerts = [a for a in await store.alerts("firing") if a["ip"] == IP]
        assert [a["severity"] for a in open_alerts] == ["critical"]
        # 25%: worse, but below 1.5 x 20% = 30%: still held
        await add_traffic(store, clock() - 60, 100, 40)  # 100/400 = 25%
        clock.advance(60)
        assert await check(store, clock) == []
        # 35%: clearly worse, the engine acts and the hold-off is over
        await add_traffic(store, clock() - 60, 200, 110)  # 210/600 = 35%
        clock.advance(60)
        assert await check(store, clock) == [("remove", "engine")]
        assert await state(store) == "removed"
        assert await rows(store, "restore_holdoff")() == []

    run(db_url, body)


def test_after_the_holdoff_the_engine_acts_as_usual(db_url: str) -> None:
    async def body(store: SqlStore, clock: FakeClock) -> None:
        await add_traffic(store, clock() - 600, 300, 60)
        await check(store, clock)
        await operator(store, clock, "pool.restore")
        clock.advance(1799)
        assert await check(store, clock) == []
        clock.advance(2)  # 1801 s after the restore; the traffic is still in the 1h window
        assert await check(store, clock) == [("remove", "engine")]
        assert await rows(store, "restore_holdoff")() == []

    run(db_url, body)


def test_engine_removal_expires_back_when_healthy_extended_when_not(db_url: str) -> None:
    async def body(store: SqlStore, clock: FakeClock) -> None:
        removed_at = clock()
        await add_traffic(store, removed_at - 600, 300, 60)
        assert await check(store, clock) == [("remove", "engine")]
        [e] = await rows(store, "removal_expiry")()
        assert (e["until"], e["extended"]) == (removed_at + 21600, 0)
        clock.advance(21599)
        await add_traffic(store, clock() - 60, 300, 90)  # still 30% at expiry
        assert await check(store, clock) == []
        clock.advance(1)
        assert await check(store, clock) == [("extend_removal", "engine")]
        [e] = await rows(store, "removal_expiry")()
        assert (e["until"], e["extended"]) == (clock() + 21600, 1)
        audit = [a for a in await store.audit_entries() if a["action"] == "extend_removal"]
        assert [a["reason"] for a in audit] == ["removal extended by 6h: still block at expiry"]
        assert await state(store) == "removed"
        clock.advance(21600)  # no traffic in the window now: healthy (nothing sent)
        assert await check(store, clock) == [("restore", "engine")]
        assert await state(store) == "active"
        [r] = [a for a in await store.audit_entries() if a["action"] == "restore"]
        assert (r["actor"], r["reason"]) == (
            "engine",
            "restored by engine: removal expired after 12h, IP healthy",
        )
        assert await rows(store, "removal_expiry")() == []
        assert await rows(store, "restore_holdoff")() == []  # no hold-off: not by hand

    run(db_url, body)


def test_undo_reverts_the_engines_removal_once(db_url: str) -> None:
    async def body(store: SqlStore, clock: FakeClock) -> None:
        await add_traffic(store, clock() - 600, 300, 60)
        await check(store, clock)
        [rm] = [a for a in await store.audit_entries() if a["action"] == "remove"]
        clock.advance(30)
        ok, msg = await operator(store, clock, "action.undo", id=str(rm["id"]))
        assert ok, msg
        why = f"undo of {rm['id']}"
        assert msg == f"{why} (remove {IP}): restored by alice: {why}; hold-off 30m"
        assert await state(store) == "active"
        [r] = [a for a in await store.audit_entries() if a["action"] == "restore"]
        assert (r["actor"], r["reason"]) == ("alice", f"restored by alice: undo of {rm['id']}")
        assert [h["actor"] for h in await rows(store, "restore_holdoff")()] == ["alice"]
        [u] = await rows(store, "action_undo")()
        assert (u["audit_id"], u["actor"]) == (rm["id"], "alice")
        assert await operator(store, clock, "action.undo", id=str(rm["id"])) == (
            False, f"action {rm['id']} was already undone by alice",
        )  # fmt: skip
        assert await operator(store, clock, "action.undo", id="999999") == (
            False, "no action with id 999999",
        )  # fmt: skip
        # Undo of the undo's restore: removed again, the hold-off ends.
        ok, msg = await operator(store, clock, "action.undo", id=str(r["id"]))
        assert ok, msg
        assert await state(store) == "removed"
        assert await rows(store, "restore_holdoff")() == []
        # An alert acknowledgement is not an action that can be reverted.
        ok, _ = await operator(
            store, clock, "pool.add", weight=50, **{"pool": "other", "create": True}
        )
        [add] = [a for a in await store.audit_entries() if a["action"] == "pool_add"]
        assert await operator(store, clock, "action.undo", id=str(add["id"])) == (
            False, f"action {add['id']} (pool_add) cannot be undone",
        )  # fmt: skip

    run(db_url, body)
