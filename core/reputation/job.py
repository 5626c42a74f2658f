"""The reputation job: DNSBL checks and Microsoft SNDS imports on their own cadence.

A ``Service`` of the engine (core/engine/loop.py): ``after_check`` runs only on the leader
and only *starts* a run, in its own task with an overall deadline, so a silent resolver or a
hung SNDS endpoint never delays a tick. A run reads the monitored IPs (pool members, warmup
IPs, IPs seen in the window) through the engine's ports, checks them, stores the results
through :class:`ReputationPort`, and turns listings into alerts and actions. Actions go the
same way as the bounce policy's: ``rotation.evaluate_member`` decides, the member change and
its audit entry commit in one ``CheckStore.commit``, and the ``[[actions]]`` hooks run after.

Every failure (DNS, HTTP, an unexpected exception) becomes a health row, never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from opsconsole.core import alerts as alert_rules
from opsconsole.core import rotation
from opsconsole.core.alerts import AlertState, Transition
from opsconsole.core.config import EngineConfig
from opsconsole.core.dns import ALookup
from opsconsole.core.engine.check import (
    action_dict,
    audit_entry,
    new_alert_id,
    notices,
)
from opsconsole.core.engine.journal import entries_for
from opsconsole.core.errors import first_line
from opsconsole.core.ports import Changes, EngineStore, Fence, LeaseLost
from opsconsole.core.reputation.dnsbl import CheckReport, DnsblChecker, DnsblConfig, ZoneHealth
from opsconsole.core.reputation.listings import (
    DNSBL_LISTED,
    delisted_members,
    listing_observations,
)
from opsconsole.core.reputation.snds import (
    SNDS_BLOCKED,
    SNDS_FILTER,
    BlockedRange,
    SndsConfig,
    SndsError,
    UsageRow,
    fetch_snds,
    parse_ipstatus,
    parse_usage,
    snds_observations,
)
from opsconsole.core.reputation.zones import SEVERITY_RANK, AlertSeverity, Zone
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity
from opsconsole.core.windows import window_bounds

log = logging.getLogger("opsconsole.reputation")

SNDS_HEALTH = "snds"  # the health row of the SNDS import (zone_health.zone)
MICROSOFT = "microsoft"
REPUTATION_RULES = (DNSBL_LISTED, SNDS_FILTER, SNDS_BLOCKED)


@dataclass(frozen=True, slots=True)
class ReputationConfig:
    """``[reputation]`` as the engine gets it (built in opsconsole/wiring.py)."""

    zones: tuple[Zone, ...]
    nameservers: tuple[str, ...] | None = None  # None: system resolvers (production only)
    interval: float = 3600.0
    timeout: float = 3.0  # one DNS lookup
    deadline: float = 60.0  # a whole run
    dnsbl: DnsblConfig = field(default_factory=DnsblConfig)
    snds: SndsConfig | None = None
    snds_interval: float = 86400.0
    # IPs seen in the window that are neither pool members nor warming: the most sending
    # ones only (a hostile file's million junk IPs must not become a million lookups).
    max_seen_ips: int = 500


class ReputationPort(Protocol):
    """Where results go (storage/reputation.py)."""

    async def save_dnsbl(self, report: CheckReport, fence: Fence | None = None) -> None: ...

    async def save_snds(
        self,
        rows: Sequence[UsageRow],
        blocked: Sequence[BlockedRange],
        now: float,
        fence: Fence | None = None,
    ) -> None: ...

    async def save_health(
        self, health: Sequence[ZoneHealth], fence: Fence | None = None
    ) -> None: ...


def snds_key(rule: str, ip: str) -> str:
    """SNDS alerts are keyed by provider: ``rule|ip|microsoft``."""
    return alert_rules.dedup_key(rule, ip, MICROSOFT)


@dataclass(frozen=True, slots=True)
class Reading:
    """One reputation alert input: open or keep open (``severity``), or clear (None)."""

    key: str
    rule: str
    ip: str
    severity: AlertSeverity | None
    title: str = ""
    message: str = ""


def observe(
    existing: AlertState | None, r: Reading, now: float, silenced: bool, new_id: Callable[[], str]
) -> tuple[AlertState | None, list[Transition], bool]:
    """Open on a listing, escalate when worse, resolve on a trustworthy clear. Pure."""
    if r.severity is None:
        if existing is None or existing.state == "resolved":
            return None, [], False
        a = replace(existing, state="resolved", resolved_at=now, resolved_by="engine",
                    resolve_note=r.message or "cleared")  # fmt: skip
        notify = a.notified_severity is not None and not silenced
        return a, [Transition(a.id, now, "resolved", "engine", a.severity, None, r.message)], notify
    if existing is None or existing.state == "resolved":
        a = AlertState(
            id=new_id(), key=r.key, rule=r.rule, ip=r.ip, subuser="", severity=r.severity,
            opened_at=now, last_seen_at=now, title=r.title, message=r.message,
            notified_severity=None if silenced else r.severity,
        )  # fmt: skip
        note = "notification muted by silence" if silenced else ""
        return a, [Transition(a.id, now, "opened", "engine", r.severity, None, note)], not silenced
    a = replace(existing, last_seen_at=now)
    if SEVERITY_RANK[r.severity] > SEVERITY_RANK[a.severity]:
        a = replace(a, severity=r.severity, state="firing", title=r.title, message=r.message,
                    notified_severity=None if silenced else r.severity)  # fmt: skip
        return a, [Transition(a.id, now, "escalated", "engine", r.severity)], not silenced
    return a, [], False


class ReputationService:
    """The engine service. ``task`` is the run in flight (tests await it)."""

    def __init__(
        self,
        config: EngineConfig,
        rep: ReputationConfig,
        store: EngineStore,
        port: ReputationPort,
        clock: Callable[[], float],
        *,
        resolver: ALookup | None = None,
        http_client: Callable[[], Any] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config, self.rep, self.store, self.port = config, rep, store, port
        self.clock = clock
        self._resolver = resolver
        self._http_client = http_client
        self._sleep = sleep
        self._checker: DnsblChecker | None = None
        self._client: Any = None
        self._notifiers: Mapping[str, str] = {}
        self.task: asyncio.Task[None] | None = None
        self.next_dnsbl = 0.0
        self.next_snds = 0.0
        # The runtime's lease as held (make_runtime binds it): a run is fenced by the lease
        # of the term it started in, so a stale leader's run commits nothing.
        self.fence_of: Callable[[], Fence | None] = lambda: None
        self._fence: Fence | None = None

    async def start(self) -> None:
        import time

        from opsconsole.core.dns import Resolver
        from opsconsole.core.notify.sender import build_notifiers, make_client

        if self._resolver is None:
            servers = list(self.rep.nameservers) if self.rep.nameservers is not None else None
            self._resolver = Resolver(servers, timeout=self.rep.timeout)
        cfg = replace(self.rep.dnsbl, deadline=min(self.rep.dnsbl.deadline, self.rep.deadline))
        # The token buckets pace in real time; ``now`` (the engine's clock) drives the rest.
        self._checker = DnsblChecker(self._resolver, self.rep.zones, cfg, time.monotonic,
                                     self._sleep)  # fmt: skip
        self._client = self._http_client() if self._http_client else make_client()
        self._notifiers = {
            name: n.min_severity
            for name, n in build_notifiers(self.config.notify, self._client).items()
        }

    async def after_check(self, now: float) -> None:
        """Start a run when one is due and none is in flight; never waits for it."""
        if self.task is not None and not self.task.done():
            return
        dnsbl_due = bool(self.rep.zones) and now >= self.next_dnsbl
        snds_due = self.rep.snds is not None and now >= self.next_snds
        if not (dnsbl_due or snds_due):
            return
        if dnsbl_due:
            self.next_dnsbl = now + self.rep.interval
        if snds_due:
            self.next_snds = now + self.rep.snds_interval
        fence = self.fence_of()
        self.task = asyncio.create_task(self.run(now, dnsbl=dnsbl_due, snds=snds_due, fence=fence))

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None
        if self._client is not None and self._http_client is None:
            await self._client.aclose()
        self._client = None

    # -- one run ----------------------------------------------------------------------

    async def run(
        self, now: float, *, dnsbl: bool = True, snds: bool = True, fence: Fence | None = None
    ) -> None:
        """One run within ``deadline``; failures are stored as health, never raised. With
        ``fence``, every write re-asserts the lease: a run whose lease moved to another
        engine meanwhile stops at its next write and commits nothing more."""
        if self._checker is None:
            await self.start()
        self._fence = fence
        try:
            async with asyncio.timeout(self.rep.deadline):
                if dnsbl and self.rep.zones:
                    await self._dnsbl(now)
                if snds and self.rep.snds is not None:
                    await self._snds(now)
            await self._health([ZoneHealth("reputation", "ok", "", now)])  # clears an error
        except TimeoutError:
            await self._health([ZoneHealth("reputation", "error",
                                           f"run stopped at its {self.rep.deadline:g}s deadline",
                                           now)])  # fmt: skip
        except asyncio.CancelledError:
            raise
        except LeaseLost as e:
            log.warning("reputation run stopped: this engine lost the lease (%s)", e)
        except Exception as e:  # a bug or the database: a health state, not a dead task
            log.warning("reputation run failed: %s", first_line(e))
            await self._health([ZoneHealth("reputation", "error", first_line(e), now)])

    async def _health(self, health: Sequence[ZoneHealth]) -> None:
        try:
            await self.port.save_health(health, self._fence)
        except LeaseLost:
            log.warning("reputation health not stored: this engine lost the lease")
        except Exception as e:
            log.warning("reputation health not stored: %s", first_line(e))

    async def monitored_ips(self, now: float) -> list[str]:
        state = await self.store.engine_state(now)
        lo, hi = window_bounds(now, self.config.monitor.window)
        ips = {m.ip for m in state.members} | {p.ip for p in state.plans}
        ips |= set(await self._busiest_seen(lo, hi, self.rep.max_seen_ips))
        return sorted(ips)

    async def _busiest_seen(self, lo: int, hi: int, n: int) -> list[str]:
        """The ``n`` IPs with the most sent in [lo, hi), read a chunk of IPs at a time
        (memory follows ``n``, not the IPs in the window)."""
        best: list[tuple[int, str]] = []  # a min-heap of (sent, ip)

        def offer(ip: str, sent: int) -> None:
            if not ip or n <= 0:
                return
            if len(best) < n:
                heapq.heappush(best, (sent, ip))
            elif (sent, ip) > best[0]:
                heapq.heapreplace(best, (sent, ip))

        stream = self.store.key_chunks(lo, hi, "ip")
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                per: dict[str, int] = {}
                for ip, _sub, st in chunk:
                    per[ip] = per.get(ip, 0) + st.sent
                for ip, sent in per.items():
                    offer(ip, sent)
        return [ip for _sent, ip in best]

    async def _dnsbl(self, now: float) -> None:
        assert self._checker is not None
        report = await self._checker.check(await self.monitored_ips(now), now)
        await self.port.save_dnsbl(report, self._fence)
        for w in report.warnings:
            log.warning("reputation: %s", w)
        state = await self.store.engine_state(now)
        previously = [(a.ip, a.key.split("|", 2)[2]) for a in state.open_alerts.values()
                      if a.rule == DNSBL_LISTED and a.is_open]  # fmt: skip
        obs = listing_observations(report, self.rep.zones, previously)
        readings: list[Reading] = []
        acting: list[tuple[str, str, str, str]] = []  # ip, action, reason, zone
        for o in obs.listed:
            key = alert_rules.dedup_key(DNSBL_LISTED, o.ip, o.zone)
            readings.append(Reading(key, DNSBL_LISTED, o.ip, o.severity, o.title, o.message))
            existing = state.open_alerts.get(key)
            if o.action in ("deprioritize", "remove") and (
                existing is None or not existing.is_open
            ):
                acting.append(
                    (o.ip, o.action, f"listed on {o.zone} [{', '.join(o.codes)}]", o.zone)
                )
        for c in obs.cleared:
            key = alert_rules.dedup_key(DNSBL_LISTED, c.ip, c.zone)
            readings.append(Reading(key, DNSBL_LISTED, c.ip, None, message=c.message))
        restores = delisted_members(state.members, state.open_alerts.values(), report,
                                    self.rep.zones)  # fmt: skip
        await self._commit(readings, acting, now, restores)

    async def _snds(self, now: float) -> None:
        assert self.rep.snds is not None and self._client is not None
        problems: list[str] = []
        try:
            usage = await fetch_snds(self._client, self.rep.snds, "data")
            status = await fetch_snds(self._client, self.rep.snds, "ipStatus")
        except SndsError as e:
            await self._health([ZoneHealth(SNDS_HEALTH, "error", e.reason, now)])
            return
        rows, p1 = parse_usage(usage)
        blocked, p2 = parse_ipstatus(status)
        problems = p1 + p2
        await self.port.save_snds(rows, blocked, now, self._fence)
        reason = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3
                                             else "")  # fmt: skip
        summary = (
            f"unparsed rows: {reason}" if problems else f"{len(rows)} rows, {len(blocked)} ranges"
        )
        await self._health([ZoneHealth(SNDS_HEALTH, "error" if problems else "ok", summary, now)])
        state = await self.store.engine_state(now)
        readings: list[Reading] = []
        flagged: set[str] = set()
        for o in snds_observations(rows, blocked):
            key = snds_key(o.rule, o.ip)
            flagged.add(key)
            readings.append(Reading(key, o.rule, o.ip, o.severity, o.title, o.message))
        clear_ips = {r.ip for r in rows}
        for key, a in state.open_alerts.items():
            snds_rule = a.rule in (SNDS_FILTER, SNDS_BLOCKED) and a.is_open
            if snds_rule and key not in flagged and (a.rule == SNDS_BLOCKED or a.ip in clear_ips):
                msg = f"Microsoft SNDS shows {a.ip} clear"
                readings.append(Reading(key, a.rule, a.ip, None, message=msg))
        await self._commit(readings, [], now)

    async def _commit(
        self,
        readings: Sequence[Reading],
        acting: Sequence[tuple[str, str, str, str]],
        now: float,
        restores: Sequence[tuple[MemberState, str]] = (),
    ) -> None:
        state = await self.store.engine_state(now)
        changes = Changes()
        to_notify: list[tuple[AlertState, str]] = []
        for r in readings:
            silenced = alert_rules.is_silenced(state.silences.get(r.key), now)
            alert, trans, notify = observe(state.open_alerts.get(r.key), r, now, silenced,
                                           new_alert_id)  # fmt: skip
            if alert is None:
                continue
            changes.alerts.append(alert)
            changes.transitions += trans
            if notify:
                to_notify.append((alert, trans[-1].transition if trans else "update"))
        actions = []
        m = self.config.monitor
        # One IP listed on two acting zones in one run: the second sees the first's change
        # (one deprioritize, not two).
        current = {(x.pool, x.ip): x for x in state.members}
        for ip, action, reason, zone in acting:
            sev = Severity.BLOCK if action == "remove" else Severity.CRITICAL
            for k, member in current.items():
                if member.ip != ip:
                    continue
                new, acts = rotation.evaluate_member(
                    member, sev, m.deprioritize_factor, m.recover_checks, now,
                    reason=reason, numbers={"zone": zone, "rule": DNSBL_LISTED},
                )  # fmt: skip
                current[k] = new
                actions += [action_dict(a) for a in acts]
        for old, zone in restores:
            # Only a member still as the listing left it: an operator (or the bounce policy)
            # who changed it since has the last word.
            if current.get((old.pool, old.ip)) != old:
                continue
            new, acts = rotation.restore(old, now, actor="engine",
                                         reason=f"delisted from {zone}")  # fmt: skip
            current[(old.pool, old.ip)] = new
            actions += [action_dict(a) for a in acts]
        before = {(x.pool, x.ip): x for x in state.members}
        changes.members = [x for k, x in current.items() if x is not before[k]]
        changes.audits = [audit_entry(a) for a in actions]
        changes.notices = notices(self._notifiers, to_notify, self.config.host,
                                  m.window, now)  # fmt: skip
        # Hooks and MTA applies of these actions go through the journal, as the check's do.
        changes.journal = entries_for(self.config.actions, self.config.mta is not None, actions)
        if changes.alerts or changes.members or changes.audits:
            await self.store.commit(changes, now, self._fence)
