"""What the engine needs from persistence, as protocols; ``storage/`` implements them.

The engine (loop, check, reader, operator commands) talks to the database only through
these few operations, so ``core/`` holds no SQL and could run on any store that keeps the
same promises: each ``commit_*`` is one transaction, and a checkpoint moves by
compare-and-swap (:class:`CheckpointConflict` when another writer moved it first).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.alerts import AlertState, Transition
from opsconsole.core.config import RetentionConfig
from opsconsole.core.engine.journal import JournalEntry, JournalPort
from opsconsole.core.rotation import MemberState
from opsconsole.core.sources.base import ParseStats
from opsconsole.core.sources.tail import Checkpoint
from opsconsole.core.stats import WindowStats
from opsconsole.core.warmup import PlanState

if TYPE_CHECKING:  # annotations only: the notifiers' httpx stays out of ingest's start-up
    from opsconsole.core.notify.dispatcher import OutboxPort

Key = tuple[str, str]  # (ip, subuser), '' for none
Row = dict[str, Any]


class CheckpointConflict(Exception):
    """Another writer moved this file's checkpoint since this reader loaded it (a second
    ``ingest`` of the same file, or an engine that lost its lease mid-batch). The batch was
    rolled back; the reader must resume from the database's position."""


class StoreLost(Exception):
    """The database vanished or was replaced under the engine: stop, never write on."""


class LeaseLost(Exception):
    """The lease moved to another engine (or expired) before this write: nothing of it was
    committed. The engine that raised it stops acting until it holds the lease again."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease as this engine holds it: every write of a check re-asserts it in the same
    transaction, so a leader that lost the lease (a long check, a partition) commits
    nothing."""

    holder: str
    epoch: int
    clock: Callable[[], float] = field(default=time.time, compare=False)  # "now" at commit


@dataclass(frozen=True, slots=True)
class SavedCheckpoint:
    """A file position as committed, with the parser state needed to resume there."""

    checkpoint: Checkpoint
    parser_state: Mapping[str, Any] = field(default_factory=dict)
    host: str = ""  # whose position it is ('' for rows from before positions were per host)


@dataclass(frozen=True, slots=True)
class EngineState:
    """What a check starts from."""

    members: list[MemberState]
    plans: list[PlanState]
    open_alerts: dict[str, AlertState]  # by dedup key
    silences: dict[str, float]  # dedup key -> silenced until


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    action: str
    ip: str = ""
    pool: str = ""
    subuser: str = ""
    reason: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notice:
    """One outbox row to write: ``body`` for each named notifier."""

    notifiers: tuple[str, ...]
    alert_id: str
    body: Mapping[str, Any]


@dataclass
class Changes:
    """Everything one decision changes, committed together (one transaction)."""

    members: list[MemberState] = field(default_factory=list)
    plans: list[PlanState] = field(default_factory=list)
    alerts: list[AlertState] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    # Provider suspensions to record / (ip, provider) to lift (storage/providers.py)
    suspensions: list[Any] = field(default_factory=list)
    resumed: list[tuple[str, str]] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)  # hooks, MTA applies to run
    holdoffs: list[Any] = field(default_factory=list)  # core.holdoff ops (storage/holdoffs.py)


class ReaderStore(Protocol):
    """The source reader's persistence: checkpoints and batches."""

    async def load_checkpoints(self, host: str = "") -> dict[str, SavedCheckpoint]:
        """This host's positions by path (a row of no host stands in where it has none)."""
        ...

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
        """Buckets, samples, counters and the checkpoint (moved from ``expected`` by
        compare-and-swap) in one transaction; raises :class:`CheckpointConflict`. ``host``
        (the reading host) is recorded for each IP and the source in the same transaction."""
        ...

    async def record_source_error(
        self, source: str, fmt: str, path: str, error: str | None, now: float, host: str = ""
    ) -> None:
        """``host``'s read error of ``source`` (None: cleared)."""
        ...


class LeaseStore(Protocol):
    async def acquire_or_renew(
        self, holder: str, host: str, pid: int, now: float, ttl: float, check_interval: float
    ) -> int | None:
        """The lease epoch now held by ``holder``, or None when another engine holds it."""
        ...

    async def record_check(self, holder: str, at: float, events_per_s: float) -> None: ...

    async def release(self, holder: str, now: float) -> None: ...


class CheckStore(Protocol):
    """What a check reads, and the one transaction it writes."""

    def key_chunks(
        self, lo: int, hi: int, order: str = "rate", chunk: int = 2000
    ) -> AsyncGenerator[list[tuple[str, str, WindowStats]], None]:
        """The window's (ip, subuser) counters, a chunk of IPs at a time (an IP's keys never
        straddle two chunks), by ``order``: ``rate`` (the report's) or ``ip``."""
        ...

    async def ip_window_stats(
        self, ip: str, lo: int, hi: int, subuser: str | None = None
    ) -> WindowStats: ...

    async def engine_state(self, now: float) -> EngineState: ...

    async def warmup_stage_stats(
        self, plans: Iterable[PlanState], hi: int
    ) -> dict[str, WindowStats]: ...

    async def warmup_sent_today(self, plans: Iterable[PlanState], hi: int) -> dict[str, int]: ...

    async def ingest_sources(self) -> list[Row]: ...

    async def commit(self, changes: Changes, now: float, fence: Fence | None = None) -> int:
        """Write ``changes`` in one transaction; return the number of outbox rows added.
        With ``fence``, raise :class:`LeaseLost` (committing nothing) unless it still holds."""
        ...


class ControlTx(Protocol):
    """One operator command's transaction: reads and writes of the engine's tables."""

    async def plan(self, ip: str) -> PlanState | None: ...

    async def member(self, pool: str, ip: str) -> MemberState | None: ...

    async def members_of(self, ip: str) -> list[MemberState]: ...

    async def pool_exists(self, name: str) -> bool: ...

    async def ensure_pool(self, name: str, now: float) -> None: ...

    async def pool_members(self, pool: str) -> list[MemberState]: ...

    async def delete_member(self, pool: str, ip: str) -> None: ...

    async def delete_pool(self, name: str) -> None: ...

    async def delete_plan(self, ip: str) -> None: ...

    async def alert(self, alert_id: str) -> AlertState | None: ...

    async def silence(self, key: str, until: float, actor: str, now: float) -> None: ...

    async def write(self, changes: Changes, now: float) -> int:
        """Add ``changes`` to this transaction; return the number of outbox rows added."""
        ...

    async def finish(self, result: str) -> None:
        """Record the claimed command's result in this transaction."""
        ...


class ControlStore(Protocol):
    """The operator command queue."""

    async def submit(self, actor: str, verb: str, args: Mapping[str, Any], now: float) -> int: ...

    async def pending(self, only: int | None = None) -> list[Row]: ...

    async def get(self, command_id: int) -> Row | None: ...

    async def wait_applied(self, command_id: int, timeout: float) -> Row | None: ...

    def claim(
        self, command_id: int, now: float, fence: Fence | None = None
    ) -> AbstractAsyncContextManager[ControlTx | None]:
        """A transaction that has claimed the command (None: another process applied it)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[ControlTx]: ...

    async def fail(self, command_id: int, error: str, now: float) -> None: ...

    async def lease_held(self, now: float) -> bool: ...


class MaintenanceStore(Protocol):
    async def prune(self, retention: RetentionConfig, now: float) -> dict[str, int]: ...

    async def analyze(self) -> None: ...


class EngineStore(ReaderStore, LeaseStore, CheckStore, ControlStore, MaintenanceStore, Protocol):
    """Everything the engine process uses. A tick that meets a transient error (see
    :meth:`is_transient`) is logged and retried, never fatal."""

    def is_transient(self, e: BaseException) -> bool:
        """True when ``e`` means the database is briefly unavailable: retry, never fatal."""
        ...

    async def audit(self, entries: Sequence[AuditEntry], now: float) -> None: ...

    def outbox(self) -> OutboxPort: ...

    def lost(self) -> str | None:
        """Why the database this store opened is gone (its file deleted or replaced under
        a running engine), or None. An engine that writes on regardless writes into an
        unlinked file and loses everything silently."""
        ...

    def journal(self) -> JournalPort: ...
