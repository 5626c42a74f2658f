"""Draining the outbox: the engine's check loop only enqueues; this runs in its own task.

Rules, so that a notifier that is down never slows the engine and nothing is lost:

- Rows are *claimed* (``next_attempt_at`` pushed ``claim_ttl`` ahead) before sending, so an
  overlapping drain cannot send a row twice, and a process that dies mid-send leaves rows
  that come due again after ``claim_ttl``. A row is done only once ``mark_sent`` commits.
- Each notifier's rows go out one at a time in enqueue order (an alert's ``resolved`` never
  overtakes its ``firing``); different notifiers are drained concurrently, so a slow or dead
  endpoint costs only its own time, bounded by its per-request timeout.
- A retryable failure (timeout, connection error, 5xx, 408/425/429) backs the row off
  exponentially and puts the whole notifier in backoff: its later rows wait instead of
  hammering the endpoint. After ``max_attempts`` the row is given up.
- A non-retryable failure (other 4xx, 3xx) gives that row up at once: the same body would be
  refused again. Given-up rows stay in the table with ``last_error``, shown by ``status``.
- ``run_once`` never takes longer than ``deadline``; rows it did not reach are released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsconsole.core.events import Clock, system_clock
from opsconsole.core.notify.sender import DeliveryError, Notifier, backoff

log = logging.getLogger("opsconsole.notify")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending notification as the dispatcher sees it."""

    id: int
    notifier: str
    alert_id: str
    body: dict[str, Any]
    attempts: int = 0
    created_at: float = 0.0
    next_attempt_at: float = 0.0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class NotifierStats:
    """Outbox health of one notifier, for ``status`` and the TUI."""

    pending: int = 0  # not sent yet, will be tried (includes retrying)
    retrying: int = 0  # pending with at least one failed attempt
    failed: int = 0  # given up: not retried until an operator asks
    last_error: str | None = None  # of the latest unsent row that failed
    last_sent_at: float | None = None
    oldest_pending_at: float | None = None  # created_at of the oldest pending row


class OutboxPort(Protocol):
    """What the dispatcher needs from storage (``opsconsole.storage.outbox.OutboxStore``)."""

    async def claim(
        self, now: float, limit: int, notifiers: Iterable[str], ttl: float
    ) -> list[OutboxItem]:
        """Atomically take up to ``limit`` due rows of ``notifiers`` (oldest first), pushing
        their ``next_attempt_at`` to ``now + ttl``."""
        ...

    async def release(self, ids: Sequence[int], at: float) -> None:
        """Make claimed, unattempted rows due at ``at`` (no attempt counted)."""
        ...

    async def mark_sent(self, id: int, now: float) -> None: ...

    async def mark_failed(self, id: int, error: str, next_attempt_at: float | None) -> None:
        """Count a failed attempt; ``next_attempt_at=None`` gives the row up."""
        ...


@dataclass(slots=True)
class _Round:
    sent: int = 0
    untouched: list[int] = field(default_factory=list)


class Dispatcher:
    """Sends due outbox rows through ``notifiers`` (by name). Rows for a notifier that is
    not configured are left alone (still pending, visible in ``status``)."""

    def __init__(
        self,
        store: OutboxPort,
        notifiers: Mapping[str, Notifier],
        clock: Clock = system_clock,
        *,
        batch: int = 100,
        deadline: float = 30.0,
        max_attempts: int = 20,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        claim_ttl: float | None = None,
        on_delivered: Callable[[OutboxItem], None] | None = None,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.batch = batch
        self.deadline = deadline
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        timeouts = [float(getattr(n, "timeout", 0.0) or 0.0) for n in self.notifiers.values()]
        # Long enough that a claimed row is never reclaimed while its send is in flight.
        self.claim_ttl = claim_ttl if claim_ttl is not None else max([deadline, *timeouts]) + 30
        self.on_delivered = on_delivered
        # notifier -> end of its backoff: spares requests to an endpoint known down; order
        # and retry times do not depend on it (both are persisted in the outbox)
        self.blocked_until: dict[str, float] = {}
        self.max_rounds = 20
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask ``run_forever`` to drain now (call after enqueueing)."""
        self._wake.set()

    def retry_delay(self, attempts: int, error: DeliveryError) -> float:
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.backoff_cap))
        return delay

    async def run_once(self, now: float | None = None) -> int:
        """Send every due row once; return how many were delivered. The outbox hands out
        one notice per alert and notifier at a time (transition order, kept in the
        table), so a round that delivered something is followed by another: the next
        notice of an alert leaves in the same call (bounded number of rounds)."""
        total = 0
        for _ in range(self.max_rounds):
            sent = await self._round(now)
            total += sent
            if not sent:
                break
        return total

    async def _round(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        names = [n for n in self.notifiers if self.blocked_until.get(n, float("-inf")) <= now]
        if not names:
            return 0
        items = await self.store.claim(now, self.batch, names, self.claim_ttl)
        if not items:
            return 0
        by_notifier: dict[str, list[OutboxItem]] = {}
        for item in sorted(items, key=lambda i: i.id):
            by_notifier.setdefault(item.notifier, []).append(item)
        rounds = {
            name: _Round(untouched=[i.id for i in rows]) for name, rows in by_notifier.items()
        }
        tasks = [
            asyncio.create_task(self._drain(name, rows, rounds[name]), name=f"notify:{name}")
            for name, rows in by_notifier.items()
        ]
        try:
            _done, pending = await asyncio.wait(tasks, timeout=self.deadline)
            if pending:
                log.warning("notify: drain deadline of %gs reached", self.deadline)
        finally:
            # On the deadline, or when the engine stops (this task cancelled mid-send).
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            for t in tasks:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    exc = t.exception()
                    log.error("notify: %s: %s: %s", t.get_name(), type(exc).__name__, exc)
            leftover = [i for r in rounds.values() for i in r.untouched]
            if leftover:
                # Rows not finished (backoff of their notifier, deadline, shutdown while in
                # flight): give them back now rather than after claim_ttl. One that was in
                # flight may have arrived; it goes out again (at-least-once beats lost).
                await self.store.release(leftover, now)
        return sum(r.sent for r in rounds.values())

    async def _drain(self, name: str, rows: list[OutboxItem], rnd: _Round) -> None:
        notifier = self.notifiers[name]
        for item in rows:
            try:
                await notifier.send(item.body)
            except DeliveryError as e:
                rnd.untouched.remove(item.id)
                attempts = item.attempts + 1
                if e.retryable and attempts < self.max_attempts:
                    delay = self.retry_delay(attempts, e)
                    at = self.clock() + delay
                    await self.store.mark_failed(item.id, e.reason, at)
                    self.blocked_until[name] = at
                    log.warning(
                        "notify %s: alert %s attempt %d failed, retry in %.0fs: %s",
                        name,
                        item.alert_id,
                        attempts,
                        delay,
                        e.reason,
                    )
                    return  # the rest of this notifier's rows wait for its backoff
                await self.store.mark_failed(item.id, e.reason, None)
                why = "not retryable" if not e.retryable else f"{attempts} attempts"
                log.error(
                    "notify %s: alert %s given up (%s): %s", name, item.alert_id, why, e.reason
                )
                continue
            except asyncio.CancelledError:
                # Deadline: the request may or may not have reached the endpoint; the row
                # stays unsent and goes out again (at-least-once beats lost).
                raise
            rnd.untouched.remove(item.id)
            await self.store.mark_sent(item.id, self.clock())
            self.blocked_until.pop(name, None)
            rnd.sent += 1
            if self.on_delivered is not None:
                self.on_delivered(item)

    async def run_forever(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Drain every ``interval`` seconds (or at once after :meth:`wake`) until ``stop``."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database may be busy or gone for a while
                log.error("notify: drain failed: %s: %s", type(e).__name__, e)
            waiters = [
                asyncio.create_task(stop.wait()),
                asyncio.create_task(self._wake.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()


__all__ = ["Dispatcher", "NotifierStats", "OutboxItem", "OutboxPort"]
