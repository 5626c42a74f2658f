"""The engine loop, shared by the TUI (in-process) and ``--no-ui`` (headless).

Every ``poll_interval`` the leader reads new lines from its sources and applies pending
operator commands; every ``check_interval`` it runs a check (core.engine.run_check on
the current state) and persists the outcome. A process that cannot take the lease is a
follower: it reads nothing and decides nothing, it only renders what the leader writes,
and takes over when the leader's lease expires.

Notifications are only enqueued here; the dispatcher drains the outbox in its own task,
so a dead or slow endpoint never delays a check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsconsole.core.config import EngineConfig
from opsconsole.core.engine.check import run_check
from opsconsole.core.engine.control import apply_pending
from opsconsole.core.engine.journal import JournalRunner, runner_for
from opsconsole.core.engine.provider_check import tools as provider_tools
from opsconsole.core.engine.reader import SourceReader, SourceSpec
from opsconsole.core.engine.resend import ActiveResender
from opsconsole.core.errors import first_line
from opsconsole.core.events import system_clock
from opsconsole.core.notify.dispatcher import Dispatcher
from opsconsole.core.notify.sender import build_notifiers, make_client
from opsconsole.core.ports import EngineStore, Fence, LeaseLost, StoreLost

log = logging.getLogger("opsconsole.engine")


MAINTENANCE_INTERVAL = 3600.0
DISPATCH_GRACE = 2.0  # seconds a notification in flight may take to finish at shutdown


class Service(Protocol):
    """Something that lives as long as the engine and hears of every check (the metrics
    exporter, the webhook receiver): wired in at the edge."""

    async def start(self) -> None: ...

    async def after_check(self, now: float) -> None: ...

    async def close(self) -> None: ...


@dataclass
class TickSummary:
    role: str
    lines: int = 0
    events: int = 0
    malformed: int = 0
    commands: int = 0
    checked: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)
    alerts_opened: int = 0
    alerts_resolved: int = 0


class EngineRuntime:
    """One engine: lease, sources, commands, checks, dispatcher. ``run()`` until stopped."""

    def __init__(
        self,
        config: EngineConfig,
        store: EngineStore,
        *,
        clock: Callable[[], float] = system_clock,
        feed: Any = None,
        poll_interval: float = 1.0,
        on_tick: Callable[[TickSummary], None] | None = None,
        on_action: Callable[[dict[str, Any]], None] | None = None,
        services: Sequence[Service] = (),
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.feed = feed
        self.services = list(services)
        self.poll_interval = min(poll_interval, config.monitor.check_interval)
        self.on_tick = on_tick
        self.on_action = on_action
        self.holder = f"{config.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.role = "starting"
        self.last_check_at: float | None = None
        self.events_per_s = 0.0
        self.readers: list[SourceReader] = []
        self._opened = False
        self._next_check = 0.0
        self._next_maintenance = 0.0
        self._stop: asyncio.Event | None = None
        self._renewed_at = 0.0
        self._rate_window: list[tuple[float, int]] = []
        self._dispatcher: Dispatcher | None = None
        self._client: Any = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self.notifiers: dict[str, Any] = {}
        self.fence: Fence | None = None  # the lease as held; None while following
        self._resender = ActiveResender()  # Alertmanager's periodic re-post of open alerts
        self.journal: JournalRunner | None = None  # hooks and MTA applies, off the loop

    # -- lifecycle ----------------------------------------------------------------------

    async def _open(self) -> None:
        if self._opened:
            return
        self._client = make_client()
        self.notifiers = build_notifiers(self.config.notify, self._client)
        self._dispatcher = Dispatcher(self.store.outbox(), self.notifiers, self.clock)
        self.journal = runner_for(
            self.config, self.store, self.holder, self.clock,
            lambda: self.role == "leader", lambda: self.notifiers, self._client,
        )  # fmt: skip
        await self.journal.start()
        for service in self.services:
            await service.start()
        self._opened = True

    async def _open_readers(self) -> None:
        """(Re)open the sources at the positions committed in the database. Done each time
        this engine becomes leader: while it followed, another engine read and committed
        further, and resuming from older positions would count those lines twice."""
        for r in self.readers:
            r.close()
        self.readers = []
        table, sigs = provider_tools(self.config.providers)  # [providers] domains, signatures
        for s in self.config.sources:
            reader = SourceReader(
                self.store,
                SourceSpec(s.name, s.format, s.path, s.ip_map, s.internal_relays, self.config.host),
                self.clock,
                providers=table,
                signatures=sigs,
            )
            await reader.open()
            reader.keep_going = self._between_batches
            self.readers.append(reader)

    async def _between_batches(self) -> bool:
        """After each committed batch of a long read: stop on SIGTERM, renew the lease in
        time, and stop reading at once if another engine took it."""
        if self._stop is not None and self._stop.is_set():
            return False
        if self.fence is None:
            return True  # a follower reading its own host's sources holds no lease
        now = self.clock()
        m = self.config.monitor
        if now - self._renewed_at >= m.lease_ttl / 3 and not await self._renew(now):
            log.warning("engine %s lost the lease during a read", self.holder)
            return False
        return True

    async def _renew(self, now: float) -> bool:
        """Renew the lease; False (and follower) when it is gone or changed hands."""
        m = self.config.monitor
        epoch = await self.store.acquire_or_renew(
            self.holder, self.config.host, os.getpid(), now, m.lease_ttl, m.check_interval
        )
        self._renewed_at = now
        if epoch is None or self.fence is None or epoch != self.fence.epoch:
            self.role = "follower"
            self.fence = None
            return False
        return True

    @contextlib.asynccontextmanager
    async def _keepalive(self) -> AsyncIterator[None]:
        """Renew the lease every third of its TTL while long work (a check over many IPs)
        runs, so a healthy leader is never replaced mid-check; a leader that cannot renew
        loses its fence and the work commits nothing."""

        async def renew() -> None:
            ttl = self.config.monitor.lease_ttl
            while True:
                await asyncio.sleep(max(0.05, ttl / 3))
                try:
                    if not await self._renew(self.clock()):
                        return
                except Exception as e:
                    if not self.store.is_transient(e):
                        raise

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        if self.journal is not None:
            await self.journal.close()
        if self._dispatch_task is not None:
            # A send in flight gets a moment to finish; then the dispatcher is cancelled and
            # gives its unfinished rows back to the outbox at once.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._dispatch_task), DISPATCH_GRACE)
            self._dispatch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._dispatch_task
            self._dispatch_task = None
        for r in self.readers:
            r.close()
        for service in self.services:
            with contextlib.suppress(Exception):
                await service.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.role == "leader":
            await self.store.release(self.holder, self.clock())
        fleet = getattr(self.store, "fleet", None)
        if fleet is not None and self._opened:
            with contextlib.suppress(Exception):
                await fleet().stopped(self.holder, self.clock())
        self.role = "stopped"

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set; the current batch always finishes first."""
        await self._open()
        self._stop = stop
        dstop = asyncio.Event()
        assert self._dispatcher is not None
        self._dispatch_task = asyncio.create_task(self._dispatcher.run_forever(dstop))
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self.tick()
                except Exception as e:
                    if not self.store.is_transient(e):
                        raise
                    # Busy past busy_timeout (another process holds the write lock), or the
                    # disk/server briefly gone: every write of the tick rolled back, and the
                    # readers resume from the committed checkpoints. Report and retry.
                    reason = first_line(e)
                    log.warning("database unavailable (%s); retrying next tick", reason,
                                extra={"data": {"event": "db_error", "error": reason}})  # fmt: skip
                delay = max(0.0, self.poll_interval - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        finally:
            dstop.set()
            await self.close()

    # -- one tick -----------------------------------------------------------------------

    async def tick(self, force_check: bool = False) -> TickSummary:
        await self._open()
        gone = self.store.lost()
        if gone is not None:
            log.error("%s: stopping without acting; restart opsconsole to open it again", gone,
                      extra={"data": {"event": "store_lost", "error": gone}})  # fmt: skip
            self.role = "stopped"
            raise StoreLost(gone)
        now = self.clock()
        m = self.config.monitor
        epoch = await self.store.acquire_or_renew(
            self.holder, self.config.host, os.getpid(), now, m.lease_ttl, m.check_interval
        )
        is_leader = epoch is not None
        new_term = self.role != "leader" or self.fence is None or self.fence.epoch != epoch
        if epoch is not None and new_term:
            log.info("engine %s is now leader", self.holder,
                     extra={"data": {"event": "role", "role": "leader"}})  # fmt: skip
            self.fence = Fence(self.holder, epoch, self.clock)
            await self._open_readers()
            self._next_check = 0.0
        elif not is_leader and self.role != "follower":
            log.info("engine %s follows: another engine holds the lease", self.holder,
                     extra={"data": {"event": "role", "role": "follower"}})  # fmt: skip
        self.role = "leader" if is_leader else "follower"
        if not is_leader:
            self.fence = None
        self._renewed_at = now
        summary = TickSummary(role=self.role)
        await self._heartbeat(now)
        if not is_leader:
            # A follower acts on nothing, but its host's logs are its own to read (a fleet
            # on one database: every host reads its sources, one engine decides). Two
            # readers of one file never count a line twice (checkpoints move by CAS).
            if self.config.sources:
                if not self.readers:
                    await self._open_readers()
                await self._poll_readers(summary)
            self._finish(summary)
            return summary
        if self.feed is not None:
            self.feed.write(now)
        await self._poll_readers(summary)
        self._track_rate(now, summary.events)
        if self.role != "leader" or (self._stop is not None and self._stop.is_set()):
            summary.role = self.role
            self._finish(summary)
            return summary  # stopping, or the lease went to another engine mid-read
        try:
            async with self._keepalive():
                summary.commands = await apply_pending(
                    self.store, self.config, self.clock, fence=self.fence
                )
                if force_check or now >= self._next_check:
                    await self.check(now, summary)
                    self._next_check = now + m.check_interval
        except LeaseLost as e:
            log.warning("engine %s lost the lease; nothing of this check was committed (%s)",
                        self.holder, e, extra={"data": {"event": "lease_lost"}})  # fmt: skip
            self.role = summary.role = "follower"
            self.fence = None
            self._finish(summary)
            return summary
        if now >= self._next_maintenance:
            await self.maintain(now)
        self._finish(summary)
        return summary

    async def _poll_readers(self, summary: TickSummary) -> None:
        for r in self.readers:
            added = await r.poll()
            summary.lines += added.lines
            summary.events += added.events
            summary.malformed += added.malformed

    async def _heartbeat(self, now: float) -> None:
        """Every engine, leader or follower, says it is alive on its host each tick (the
        fleet views show a host whose engine stopped). Stores without fleet rows skip it."""
        fleet = getattr(self.store, "fleet", None)
        if fleet is not None:
            await fleet().heartbeat(self.holder, self.config.host, self.role, os.getpid(), now)

    async def check(self, now: float, summary: TickSummary) -> None:
        outcome, _actions = await run_check(
            self.store, self.config, now, self.notifiers, self.fence
        )
        summary.checked = True
        summary.actions = outcome.actions
        summary.alerts_opened = outcome.alerts_opened
        summary.alerts_resolved = outcome.alerts_resolved
        self.last_check_at = now
        await self.store.record_check(self.holder, now, self.events_per_s)
        if outcome.enqueued and self._dispatcher is not None:
            self._dispatcher.wake()
        if self.journal is not None:
            self.journal.wake()
        if self._resender.wanted(self.notifiers):
            await self._resender.run(
                self.notifiers, outcome.open_alerts, self.config.host,
                self.config.monitor.window, now,
            )  # fmt: skip
        for service in self.services:
            await service.after_check(now)
        if self.on_action is not None:
            for a in outcome.actions:
                self.on_action(a)

    async def maintain(self, now: float) -> None:
        """Hourly: retention, then fresh planner statistics."""
        deleted = await self.store.prune(self.config.retention, now)
        await self.store.analyze()
        self._next_maintenance = now + MAINTENANCE_INTERVAL
        if any(deleted.values()):
            log.info("retention: deleted %s", deleted)

    async def drain_outbox(self, timeout: float = 10.0) -> int:
        """Send what is due now (``--once``): bounded, so a dead endpoint cannot hang cron."""
        if self._dispatcher is None:
            return 0
        try:
            return int(await asyncio.wait_for(self._dispatcher.run_once(), timeout))
        except TimeoutError:
            return 0

    async def drain_journal(self, timeout: float = 60.0) -> None:
        """Run the due hooks and MTA applies now (``--once``), bounded."""
        if self.journal is not None:
            await self.journal.drain(timeout)

    def _track_rate(self, now: float, events: int) -> None:
        self._rate_window.append((now, events))
        cutoff = now - 60
        self._rate_window = [(t, n) for t, n in self._rate_window if t >= cutoff]
        span = max(1.0, now - self._rate_window[0][0])
        self.events_per_s = sum(n for _, n in self._rate_window) / span

    def _finish(self, summary: TickSummary) -> None:
        if self.on_tick is not None:
            self.on_tick(summary)
