"""The engine's ports (``opsconsole.core.ports``) on SQLAlchemy: one object the loop, the
check, the reader and operator commands hold, over SQLite or PostgreSQL alike."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core import redact
from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.alerts import AlertState
from opsconsole.core.config import RetentionConfig
from opsconsole.core.ports import (
    AuditEntry,
    Changes,
    EngineState,
    Fence,
    Key,
    Row,
    SavedCheckpoint,
)
from opsconsole.core.rotation import MemberState
from opsconsole.core.sources.base import ParseStats
from opsconsole.core.stats import WindowStats
from opsconsole.core.warmup import PlanState
from opsconsole.storage import audit, checkpoints, control_queue, lease, reads, retention
from opsconsole.storage import holdoffs as holdoff_rows
from opsconsole.storage import journal as journal_rows
from opsconsole.storage.db import serialized_begin
from opsconsole.storage.engine_store import (
    ALERTS,
    MEMBERS,
    PLANS,
    SILENCES,
    add_transitions,
    load,
    load_alert,
    load_members,
    load_open_alerts,
    load_plans,
    load_silences,
    save_all,
    upsert,
)
from opsconsole.storage.fleet import FleetStore
from opsconsole.storage.holdoffs import HoldoffStore, HoldoffTx
from opsconsole.storage.ip_stream import StreamReads
from opsconsole.storage.providers import ProviderStore
from opsconsole.storage.providers import write_changes as provider_writes
from opsconsole.storage.reputation import ReputationStore
from opsconsole.storage.tables import Command, Pool, table_of

if TYPE_CHECKING:  # annotations only: the notifiers' httpx stays out of ingest's start-up
    from opsconsole.core.notify.dispatcher import NotifierStats
    from opsconsole.storage.outbox import OutboxStore


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_POOLS = table_of(Pool)
_COMMANDS = table_of(Command)


async def write_changes(conn: AsyncConnection, changes: Changes, now: float) -> int:
    """``changes`` inside the caller's transaction; the number of outbox rows added."""
    await save_all(conn, MEMBERS, changes.members)
    await save_all(conn, PLANS, changes.plans)
    await save_all(conn, ALERTS, changes.alerts)
    await add_transitions(conn, changes.transitions)
    await provider_writes(conn, changes.suspensions, changes.resumed)
    await journal_rows.add(conn, changes.journal, now)
    await holdoff_rows.write(conn, changes.holdoffs)
    for e in changes.audits:
        await audit.record(
            conn, at=now, actor=e.actor, action=e.action, ip=e.ip, pool=e.pool,
            subuser=e.subuser, reason=e.reason, detail=dict(e.detail),
        )  # fmt: skip
    n = 0
    if changes.notices:
        from opsconsole.storage.outbox import OutboxStore  # (lazy: httpx)

        outbox = OutboxStore(conn.engine)  # writes through ``conn``
        for notice in changes.notices:
            ids = await outbox.enqueue(
                list(notice.notifiers), notice.alert_id, dict(notice.body), now, conn=conn
            )
            n += len(ids)
    return n


class SqlTx:
    """One transaction of operator commands and config set-up (``ControlTx``)."""

    def __init__(self, conn: AsyncConnection, command_id: int | None = None) -> None:
        self.conn = conn
        self.command_id = command_id
        self.holdoffs = HoldoffTx(conn)  # core.engine.holdoffs: hold-offs, undo reads

    async def plan(self, ip: str) -> PlanState | None:
        found = await load(self.conn, PlanState, PLANS, PLANS.c.ip == ip)
        return found[0] if found else None

    async def member(self, pool: str, ip: str) -> MemberState | None:
        found = await load(
            self.conn, MemberState, MEMBERS, MEMBERS.c.pool == pool, MEMBERS.c.ip == ip
        )
        return found[0] if found else None

    async def members_of(self, ip: str) -> list[MemberState]:
        return await load(self.conn, MemberState, MEMBERS, MEMBERS.c.ip == ip)

    async def pool_exists(self, name: str) -> bool:
        q = select(_POOLS.c.name).where(_POOLS.c.name == name)
        return (await self.conn.execute(q)).first() is not None

    async def ensure_pool(self, name: str, now: float) -> None:
        if not await self.pool_exists(name):
            await self.conn.execute(_POOLS.insert().values(name=name, created_at=now))

    async def pool_members(self, pool: str) -> list[MemberState]:
        return await load(self.conn, MemberState, MEMBERS, MEMBERS.c.pool == pool)

    async def delete_member(self, pool: str, ip: str) -> None:
        q = MEMBERS.delete().where(MEMBERS.c.pool == pool, MEMBERS.c.ip == ip)
        await self.conn.execute(q)

    async def delete_pool(self, name: str) -> None:
        await self.conn.execute(_POOLS.delete().where(_POOLS.c.name == name))

    async def delete_plan(self, ip: str) -> None:
        await self.conn.execute(PLANS.delete().where(PLANS.c.ip == ip))

    async def alert(self, alert_id: str) -> AlertState | None:
        return await load_alert(self.conn, alert_id)

    async def silence(self, key: str, until: float, actor: str, now: float) -> None:
        row = {"key": key, "until": until, "actor": actor, "created_at": now}
        await upsert(self.conn, SILENCES, row)

    async def write(self, changes: Changes, now: float) -> int:
        return await write_changes(self.conn, changes, now)

    async def finish(self, result: str) -> None:
        assert self.command_id is not None, "finish() belongs to a claimed command"
        await self.conn.execute(
            _COMMANDS.update().where(_COMMANDS.c.id == self.command_id).values(result=result)
        )


def _server_unavailable(sqlstate: str) -> bool:
    """PostgreSQL's codes for "not now": connection exceptions (08), shutdown and start-up
    (57P01-57P03), too many connections (53300)."""
    return sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03", "53300")


class SqlStore(StreamReads):
    """``EngineStore`` on an ``AsyncEngine`` (with the chunked reads of ``ip_stream``)."""

    def is_transient(self, e: BaseException) -> bool:
        """Locked past busy_timeout, the server briefly gone, or a PostgreSQL connection
        dropped mid-query (a restart, a killed backend: an invalidated InterfaceError)."""
        if isinstance(e, OperationalError):
            return True
        if isinstance(e, (ConnectionError, TimeoutError)):
            # asyncpg raises the socket's own error when the route to the server is gone
            # (a partition, a reset, a refused connect): the engine waits it out.
            return True
        if isinstance(e, DBAPIError):
            if e.connection_invalidated:
                return True
            return _server_unavailable(getattr(e.orig, "sqlstate", None) or "")
        return False

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.provider_store = ProviderStore(engine)  # core.provider_policy ProviderReads
        self.holdoff_store = HoldoffStore(engine)  # core.engine.holdoffs reads
        path = redact.sqlite_path(engine.url.render_as_string(hide_password=True))
        self._path = path
        self._identity = _identity(path) if path else None

    def lost(self) -> str | None:
        if self._path is None or self._identity is None:
            return None
        now = _identity(self._path)
        if now is None:
            return f"database file {self._path} was deleted under the running engine"
        if now != self._identity:
            return f"database file {self._path} was replaced under the running engine"
        return None

    async def close(self) -> None:
        await self.engine.dispose()

    # -- reader --------------------------------------------------------------------------

    async def load_checkpoints(self, host: str = "") -> dict[str, SavedCheckpoint]:
        return await checkpoints.load_checkpoints(self.engine, host)

    async def commit_batch(
        self,
        *,
        source: str,
        fmt: str,
        source_path: str,
        agg: BatchAggregate,
        stats: ParseStats,
        checkpoint: SavedCheckpoint | None,
        expected: SavedCheckpoint | None,
        now: float,
        host: str = "",
    ) -> None:
        await checkpoints.commit_batch(
            self.engine, source=source, fmt=fmt, source_path=source_path, agg=agg,
            stats=stats, checkpoint=checkpoint, expected=expected, now=now, host=host,
        )  # fmt: skip

    async def record_source_error(
        self, source: str, fmt: str, path: str, error: str | None, now: float, host: str = ""
    ) -> None:
        await checkpoints.record_source_error(self.engine, source, fmt, path, error, now, host)

    # -- lease ---------------------------------------------------------------------------

    async def acquire_or_renew(
        self, holder: str, host: str, pid: int, now: float, ttl: float, check_interval: float
    ) -> int | None:
        return await lease.acquire_or_renew(
            self.engine, holder, host, pid, now, ttl, check_interval
        )

    async def record_check(self, holder: str, at: float, events_per_s: float) -> None:
        await lease.record_check(self.engine, holder, at, events_per_s)

    async def release(self, holder: str, now: float) -> None:
        await lease.release(self.engine, holder, now)

    async def lease_held(self, now: float) -> bool:
        row = await reads.read_lease(self.engine)
        return row is not None and row["expires_at"] > now

    # -- check ---------------------------------------------------------------------------

    async def window_stats(self, lo: int, hi: int) -> dict[Key, WindowStats]:
        return await reads.window_stats(self.engine, lo, hi)

    async def engine_state(self, now: float) -> EngineState:
        async with self.engine.connect() as conn:
            members = await load_members(conn)
            plans = await load_plans(conn)
            open_alerts = {a.key: a for a in await load_open_alerts(conn)}
            silences = await load_silences(conn, now)
        return EngineState(members, plans, open_alerts, silences)

    async def warmup_stage_stats(
        self, plans: Iterable[PlanState], hi: int
    ) -> dict[str, WindowStats]:
        return await reads.warmup_stage_stats(self.engine, plans, hi)

    async def warmup_sent_today(self, plans: Iterable[PlanState], hi: int) -> dict[str, int]:
        return await reads.warmup_sent_today(self.engine, plans, hi)

    async def ingest_sources(self) -> list[Row]:
        return await reads.ingest_sources(self.engine)

    async def commit(self, changes: Changes, now: float, fence: Fence | None = None) -> int:
        async with self.engine.begin() as conn:
            if fence is not None:
                await lease.fence(conn, fence)
            return await write_changes(conn, changes, now)

    async def audit(self, entries: Sequence[AuditEntry], now: float) -> None:
        if entries:
            async with self.engine.begin() as conn:
                await write_changes(conn, Changes(audits=list(entries)), now)

    def outbox(self) -> OutboxStore:
        from opsconsole.storage.outbox import OutboxStore

        return OutboxStore(self.engine)

    def esp_events(self, clock: Any = None, host: str = "") -> Any:
        """The ESP receiver's ``store`` port (storage/esp.py), like ``outbox()``; its
        counters are ``host``'s (the receiving engine's)."""
        from opsconsole.storage.esp import EspStore

        return EspStore(self.engine, clock, host)

    def journal(self) -> journal_rows.JournalStore:
        return journal_rows.JournalStore(self.engine)

    def reputation(self) -> ReputationStore:
        return ReputationStore(self.engine)

    def fleet(self) -> FleetStore:
        return FleetStore(self.engine)

    # -- operator commands -----------------------------------------------------------------

    async def submit(self, actor: str, verb: str, args: Mapping[str, Any], now: float) -> int:
        return await control_queue.submit(self.engine, actor, verb, dict(args), now)

    async def pending(self, only: int | None = None) -> list[Row]:
        rows = await control_queue.pending(self.engine)
        return [r for r in rows if only is None or r["id"] == only]

    async def get(self, command_id: int) -> Row | None:
        return await control_queue.get(self.engine, command_id)

    async def wait_applied(self, command_id: int, timeout: float) -> Row | None:
        return await control_queue.wait_applied(self.engine, command_id, timeout)

    @asynccontextmanager
    async def claim(
        self, command_id: int, now: float, fence: Fence | None = None
    ) -> AsyncIterator[SqlTx | None]:
        async with self.engine.begin() as conn:
            if fence is not None:
                await lease.fence(conn, fence)
            claimed = await conn.execute(
                _COMMANDS.update()
                .where(_COMMANDS.c.id == command_id, _COMMANDS.c.applied_at.is_(None))
                .values(applied_at=now)
            )
            yield SqlTx(conn, command_id) if claimed.rowcount == 1 else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTx]:
        # Serialised: engines starting at once each create the config's pools (check, then
        # insert) one at a time, seeing what the previous one committed.
        async with serialized_begin(self.engine) as conn:
            yield SqlTx(conn)

    async def fail(self, command_id: int, error: str, now: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                _COMMANDS.update()
                .where(_COMMANDS.c.id == command_id, _COMMANDS.c.applied_at.is_(None))
                .values(applied_at=now, error=error)
            )

    # -- read model (``opsconsole.core.views.ReadStore``) -----------------------------------------

    async def ip_window_stats(
        self, ip: str, lo: int, hi: int, subuser: str | None = None
    ) -> WindowStats:
        return await reads.ip_window_stats(self.engine, ip, lo, hi, subuser)

    async def members(self) -> list[MemberState]:
        return await reads.read_members(self.engine)

    async def plans(self) -> list[PlanState]:
        return await reads.read_plans(self.engine)

    async def alerts(self, state: str | None = None, limit: int = 500) -> list[Row]:
        return await reads.read_alerts(self.engine, state, limit)

    async def lease(self) -> Row | None:
        return await reads.read_lease(self.engine)

    async def ip_series(
        self, lo: int, hi: int, step: int, ips: Sequence[str] | None = None
    ) -> dict[str, list[tuple[int, int]]]:
        return await reads.ip_series(self.engine, lo, hi, step, ips)

    async def bounce_samples(self, ip: str, limit: int = 20) -> list[Row]:
        return await reads.bounce_samples(self.engine, ip, limit)

    async def audit_entries(
        self, since: float | None = None, ip: str | None = None, limit: int = 1000
    ) -> list[Row]:
        return await audit.entries(self.engine, since, ip, limit)

    async def silences(self, now: float) -> list[Row]:
        from opsconsole.storage.notify import NotifyStore

        return await NotifyStore(self.engine).silences(now)

    async def outbox_stats(self) -> dict[str, NotifierStats]:
        from opsconsole.storage.outbox import OutboxStore

        return await OutboxStore(self.engine).stats()

    async def alert_history(self, alert_id: str) -> tuple[list[Row], list[Row]]:
        from opsconsole.storage.tui import alert_history

        return await alert_history(self.engine, alert_id)

    # -- maintenance -----------------------------------------------------------------------

    async def prune(self, retention_config: RetentionConfig, now: float) -> dict[str, int]:
        return await retention.prune(self.engine, retention_config, now)

    async def analyze(self) -> None:
        await retention.analyze(self.engine)


async def open_store(url: str, *, create: bool = True) -> SqlStore:
    """The database at ``url``, migrated, behind the engine's ports (DatabaseError if not).
    ``create=False`` (read-only commands): a missing SQLite file is an error, not created."""
    from opsconsole.storage.db import open_database

    return SqlStore(await open_database(url, create=create))
