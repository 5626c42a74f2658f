"""The journal: every side effect a decision causes outside the database (an ``[[actions]]``
hook, an MTA apply) is a row written in the same transaction as the decision, then run by
:class:`JournalRunner`, a task off the tick loop.

Row life: ``pending`` -> ``running`` (claimed, attempts + 1) -> ``done``, or back to
``pending`` with a backoff, or ``failed`` after ``max_attempts`` (then an audit entry at
error level and a critical alert). A row found ``running`` when an engine becomes leader was
cut off by a crash: it runs again (at-least-once). MTA rows carry no plan: the runner
recomputes the plan from the desired state at run time, so running one twice is harmless,
and every pending MTA row is satisfied by one apply (coalesced, at most one apply per
``min_interval``).

Hooks run as an argv in their own process group (``core.mta.apply.Runner``): a timeout kills
the hook and everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from opsconsole.core.config import HookConfig
from opsconsole.core.engine.hooks import PLACEHOLDERS, build_argv

if TYPE_CHECKING:
    from opsconsole.core.ports import AuditEntry

log = logging.getLogger("opsconsole.journal")

HOOK = "hook"
MTA = "mta"
MTA_KEY = "mta:pools"
MTA_PROVIDER = "mta_provider"  # a provider suspension/resume to land in the MTA
PROVIDER_ACTIONS = ("suspend_provider", "resume_provider")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A row to write with the decision that caused it."""

    kind: str  # hook | mta
    payload: Mapping[str, Any]
    key: str = ""


@dataclass(frozen=True, slots=True)
class JournalItem:
    """A row as stored."""

    id: int
    kind: str
    key: str
    payload: Mapping[str, Any]
    state: str
    attempts: int
    next_at: float
    created_at: float
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class JournalConfig:
    concurrency: int = 4
    max_attempts: int = 5
    backoff: float = 5.0
    backoff_max: float = 300.0
    poll: float = 1.0  # how often the runner looks for due rows when nothing wakes it


def backoff(attempts: int, config: JournalConfig) -> float:
    """Seconds to wait after the ``attempts``-th failure: doubling, capped."""
    return float(min(config.backoff_max, config.backoff * 2 ** max(0, attempts - 1)))


def hook_entries(
    hooks: Sequence[HookConfig], actions: Sequence[Mapping[str, Any]]
) -> list[JournalEntry]:
    """One row per (action, matching hook), with the argv already built."""
    out = []
    for a in actions:
        values = {k: str(a.get(k) or "") for k in PLACEHOLDERS}
        values["action"] = str(a["action"])
        for h in hooks:
            if values["action"] in h.on:
                out.append(
                    JournalEntry(
                        HOOK,
                        {
                            "argv": build_argv(h.run, values),
                            "timeout": h.timeout,
                            "action": values["action"],
                            "ip": values["ip"],
                            "pool": values["pool"],
                            "subuser": values["subuser"],
                        },
                    )
                )
    return out


def mta_entry(reason: str) -> JournalEntry:
    return JournalEntry(MTA, {"reason": reason}, MTA_KEY)


def entries_for(
    hooks: Sequence[HookConfig], mta_configured: bool, actions: Sequence[Mapping[str, Any]]
) -> list[JournalEntry]:
    """The journal rows a decision with these ``actions`` needs: its hooks, and one MTA
    apply when an action moved a pool member and an ``[mta]`` is configured."""
    out = hook_entries(hooks, actions)
    moved = [a for a in actions if a.get("pool")]
    if mta_configured and moved:
        what = ", ".join(f"{a['action']} {a['ip']}" for a in moved[:5])
        out.append(mta_entry(what))
    if mta_configured:
        out += provider_entries(actions)
    return out


def provider_entries(actions: Sequence[Mapping[str, Any]]) -> list[JournalEntry]:
    """One ``mta_provider`` row per suspend/resume of an (ip, provider): the runner looks up
    what is wanted when it runs (core.mta.suspensions), so the row names only the pair."""
    out = []
    for a in actions:
        if a.get("action") in PROVIDER_ACTIONS and a.get("provider"):
            ip, prov = str(a["ip"]), str(a["provider"])
            payload = {
                "action": a["action"],
                "ip": ip,
                "provider": prov,
                "reason": str(a.get("reason") or ""),
                "domains": a.get("domains") or "",
            }
            out.append(JournalEntry(MTA_PROVIDER, payload, f"mtap:{ip}:{prov}"[:64]))
    return out


class JournalPort(Protocol):
    """What the runner needs from persistence (``storage/journal.py``)."""

    async def due(self, now: float, limit: int) -> list[JournalItem]: ...

    async def claim(self, item_id: int, holder: str, now: float) -> bool: ...

    async def finish(
        self,
        item_id: int,
        state: str,
        now: float,
        result: Mapping[str, Any],
        next_at: float | None = None,
        error: str | None = None,
        audits: Sequence[AuditEntry] = (),
    ) -> None: ...

    async def requeue_running(self, now: float) -> int: ...

    async def counts(self) -> dict[str, int]: ...

    async def original(self, kind: str) -> dict[str, Any] | None: ...

    async def save_original(self, kind: str, value: Mapping[str, Any], now: float) -> bool: ...


# An MTA apply: (reason) -> (ok, error, audit detail). Built at the edge.
MtaApply = Callable[[str], Awaitable[tuple[bool, str | None, dict[str, Any]]]]
OnFailed = Callable[[JournalItem, str, float], Awaitable[None]]
# A provider suspension to the MTA: (row payload) -> (ok, error, audit detail).
MtaProviderApply = Callable[[Mapping[str, Any]], Awaitable[tuple[bool, str | None, dict[str, Any]]]]


@dataclass
class JournalRunner:
    """Runs due rows with bounded concurrency; one task, woken after each check.

    ``is_leader`` gates every round: a follower never runs anything. ``on_failed`` hears of a
    row given up on (the edge opens an alert)."""

    journal: JournalPort
    holder: str
    clock: Callable[[], float]
    config: JournalConfig = field(default_factory=JournalConfig)
    is_leader: Callable[[], bool] = lambda: True
    mta_apply: MtaApply | None = None
    mta_min_interval: float = 0.0
    on_failed: OnFailed | None = None
    env: Mapping[str, str] | None = None
    mta_provider: MtaProviderApply | None = None

    def __post_init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sem = asyncio.Semaphore(max(1, self.config.concurrency))
        self._inflight: set[int] = set()
        self._children: set[asyncio.Task[None]] = set()
        self._last_mta = -1e18
        self._was_leader = False
        self._mta_lock = asyncio.Lock()

    # -- Service protocol --------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run_forever())

    async def after_check(self, now: float) -> None:
        self.wake()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for t in list(self._children):
            t.cancel()
        for t in list(self._children):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def wake(self) -> None:
        self._wake.set()

    # -- rounds --------------------------------------------------------------------------

    async def _run_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll)
            self._wake.clear()
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database briefly gone: next round retries
                log.warning("journal round failed: %s", e)

    async def round(self) -> int:
        """Start every due row not already running here; return how many started."""
        if not self.is_leader():
            self._was_leader = False
            return 0
        now = self.clock()
        if not self._was_leader:
            n = await self.journal.requeue_running(now)
            if n:
                log.warning("journal: %d row(s) cut off by a restart run again", n)
            self._was_leader = True
        started = 0
        mta_taken = False
        for item in await self.journal.due(now, 100):
            if item.id in self._inflight:
                continue
            if item.kind == MTA:
                if mta_taken or self._mta_lock.locked():
                    continue
                if now - self._last_mta < self.mta_min_interval:
                    self._wake_at(self._last_mta + self.mta_min_interval - now)
                    continue
                mta_taken = True
            if not await self.journal.claim(item.id, self.holder, now):
                continue
            self._inflight.add(item.id)
            task = asyncio.create_task(self._one(item))
            self._children.add(task)
            task.add_done_callback(self._children.discard)
            started += 1
        return started

    async def drain(self, timeout: float = 60.0) -> None:
        """Run rounds until nothing due is left or running (CLI use, tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.round()
            if self._children:
                await asyncio.wait(list(self._children), timeout=deadline - time.monotonic())
                continue
            if not await self.journal.due(self.clock(), 1):
                return
            await asyncio.sleep(0.05)

    def _wake_at(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, delay), self._wake.set)

    async def _one(self, item: JournalItem) -> None:
        try:
            async with self._sem:
                if item.kind == MTA:
                    async with self._mta_lock:
                        self._last_mta = self.clock()
                        ok, error, detail = await self._run_mta(item)
                        audit_action, actor = "mta.apply", "mta"
                elif item.kind == MTA_PROVIDER:
                    async with self._mta_lock:  # one MTA change at a time
                        ok, error, detail = await self._run_provider(item)
                        audit_action = f"mta.{item.payload.get('action', 'provider')}"
                        actor = "mta"
                else:
                    ok, error, detail = await self._run_hook(item)
                    audit_action, actor = f"hook:{item.payload.get('action', '')}", "hook"
            await self._record(item, ok, error, detail, audit_action, actor)
        finally:
            self._inflight.discard(item.id)
            self.wake()

    async def _run_mta(self, item: JournalItem) -> tuple[bool, str | None, dict[str, Any]]:
        if self.mta_apply is None:
            return False, "no [mta] configured", {}
        return await self.mta_apply(str(item.payload.get("reason", "")))

    async def _run_provider(self, item: JournalItem) -> tuple[bool, str | None, dict[str, Any]]:
        if self.mta_provider is None:
            return False, "no [mta] configured", {}
        return await self.mta_provider(item.payload)

    async def _run_hook(self, item: JournalItem) -> tuple[bool, str | None, dict[str, Any]]:
        from opsconsole.core.mta.apply import Runner

        argv = [str(a) for a in item.payload.get("argv", [])]
        timeout = float(item.payload.get("timeout", 10.0))
        started = time.monotonic()
        res = await Runner(env=self.env).run(argv, timeout)
        detail: dict[str, Any] = {
            "argv": argv,
            "returncode": res.returncode,
            "output": res.output,
            "seconds": round(time.monotonic() - started, 3),
            "attempt": item.attempts + 1,
            "journal_id": item.id,
        }
        ok = res.returncode == 0 and res.error is None
        detail["ok"] = ok
        error = res.error or (None if ok else f"exit {res.returncode}")
        if res.error:
            detail["error"] = res.error
        return ok, error, detail

    async def _record(
        self,
        item: JournalItem,
        ok: bool,
        error: str | None,
        detail: dict[str, Any],
        action: str,
        actor: str,
    ) -> None:
        from opsconsole.core.ports import AuditEntry

        now = self.clock()
        attempts = item.attempts + 1
        p = item.payload
        entry = AuditEntry(
            actor=actor,
            action=action,
            ip=str(p.get("ip", "")),
            pool=str(p.get("pool", "")),
            subuser=str(p.get("subuser", "")),
            reason="ok" if ok else (error or "failed"),
            detail={**detail, "journal_id": item.id, "attempt": attempts},
        )
        if ok:
            await self.journal.finish(item.id, "done", now, detail, audits=[entry])
            return
        if attempts < self.config.max_attempts:
            delay = backoff(attempts, self.config)
            await self.journal.finish(
                item.id, "pending", now, detail, now + delay, error, audits=[entry]
            )
            self._wake_at(delay)
            return
        log.error("journal row %d (%s) failed %d times: %s", item.id, action, attempts, error)
        await self.journal.finish(item.id, "failed", now, detail, None, error, audits=[entry])
        if self.on_failed is not None:
            await self.on_failed(item, error or "failed", now)


JOURNAL_FAILED = "journal_failed"
MTA_EMPTY_POOL = "mta_empty_pool"


async def open_alert(
    store: Any,
    notifiers: Mapping[str, Any],
    host: str,
    window: float,
    rule: str,
    ip: str,
    title: str,
    message: str,
    now: float,
) -> bool:
    """Open a critical alert ``rule|ip|`` (once: an open one is left alone) with its
    notices, in one transaction. ``store`` is a ``CheckStore``."""
    from opsconsole.core.alerts import AlertState, Transition, dedup_key
    from opsconsole.core.engine.check import new_alert_id, notices
    from opsconsole.core.ports import Changes

    key = dedup_key(rule, ip, "")
    state = await store.engine_state(now)
    existing = state.open_alerts.get(key)
    if existing is not None and existing.state != "resolved":
        return False
    alert = AlertState(
        id=new_alert_id(), key=key, rule=rule, ip=ip, subuser="", severity="critical",
        opened_at=now, last_seen_at=now, title=title, message=message,
    )  # fmt: skip
    trans = Transition(alert.id, now, "opened", "engine", "critical")
    await store.commit(
        Changes(
            alerts=[alert],
            transitions=[trans],
            notices=notices(notifiers, [(alert, "opened")], host, window, now),
        ),
        now,
    )
    return True


def runner_for(
    config: Any,
    store: Any,
    holder: str,
    clock: Callable[[], float],
    is_leader: Callable[[], bool],
    notifiers: Callable[[], Mapping[str, Any]],
    http: Any = None,
) -> JournalRunner:
    """The runner of an engine (``config``: EngineConfig, ``store``: EngineStore): hooks,
    and MTA applies when ``[mta]`` is configured; a row given up on, or an empty-pool guard,
    opens a critical alert."""
    journal = store.journal()
    window = config.monitor.window

    async def on_failed(item: JournalItem, error: str, now: float) -> None:
        what = item.payload.get("action") or item.kind
        ip = str(item.payload.get("ip", "")) or item.kind
        await open_alert(
            store, notifiers(), config.host, window, JOURNAL_FAILED, ip,
            f"{item.kind} failed: {what}",
            f"journal row {item.id} ({item.kind} {what}) failed {item.attempts + 1} times: {error}",
            now,
        )  # fmt: skip

    mta_apply: MtaApply | None = None
    mta_provider: MtaProviderApply | None = None
    min_interval = 0.0
    env = None
    if config.mta is not None:
        from opsconsole.core.mta.apply import Runner
        from opsconsole.core.mta.engine import MtaApplier

        async def members(now: float) -> Sequence[Any]:
            return list((await store.engine_state(now)).members)

        async def on_guard(pools: Sequence[str], now: float) -> None:
            for pool in pools:
                await open_alert(
                    store, notifiers(), config.host, window, MTA_EMPTY_POOL, pool,
                    f"Pool {pool} has no active member",
                    f"pool {pool}: every member is removed; the MTA keeps its last member",
                    now,
                )  # fmt: skip

        env = config.mta.env
        mta_apply = MtaApplier(
            config.mta, config.pools, members, journal, Runner(http, env=env), clock, on_guard
        )
        min_interval = config.mta.min_interval
        from opsconsole.core.mta.suspensions import suspender_for

        mta_provider = suspender_for(config, store, mta_apply, clock)
    return JournalRunner(
        journal, holder, clock, is_leader=is_leader, mta_apply=mta_apply,
        mta_min_interval=min_interval, on_failed=on_failed, env=env, mta_provider=mta_provider,
    )  # fmt: skip
