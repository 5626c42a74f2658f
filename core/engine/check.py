"""One engine check: read the state, run the pure policy (core.policy/alerts), persist.

The decision and everything it changes (members, plans, alerts and their history, audit
entries, outbox rows) commit in one transaction. Action hooks run after the commit,
concurrently and bounded by their timeouts, and their outcomes are audited too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core import alerts as alert_rules
from opsconsole.core import policy, warmup
from opsconsole.core.alerts import AlertState, Transition
from opsconsole.core.engine.hooks import HookRunner
from opsconsole.core.notify.payload import AlertNotice, webhook_body
from opsconsole.core.notify.sender import recipients
from opsconsole.core.stats import Severity
from opsconsole.settings import Settings
from opsconsole.storage import audit, engine_store, reads
from opsconsole.storage.outbox import OutboxStore


@dataclass
class CheckOutcome:
    actions: list[dict[str, Any]] = field(default_factory=list)
    alerts_opened: int = 0
    alerts_resolved: int = 0
    enqueued: int = 0


def new_alert_id() -> str:
    return uuid.uuid4().hex[:12]


def stale_observations(
    sources: list[dict[str, Any]], configured: set[str], now: float, stale_after: float
) -> list[policy.Observation]:
    """A followed source with no event for ``stale_after`` raises ``source_stale``."""
    out = []
    for s in sources:
        if s["name"] not in configured:
            continue
        last = s["last_event_at"] or s["last_read_at"]
        if last is None:
            continue
        age = now - last
        breach = Severity.WARNING if age >= stale_after else Severity.OK
        ctx = {"source": s["name"], "age_seconds": round(age), "error": s["error"]}
        out.append(policy.Observation(alert_rules.SOURCE_STALE, "", s["name"], breach, age, 0, ctx))
    return out


async def run_and_persist(
    engine: AsyncEngine,
    settings: Settings,
    now: float,
    notifiers: Mapping[str, Any],
    hooks: HookRunner | None,
) -> CheckOutcome:
    cfg = policy.PolicyConfig.from_settings(settings.monitor, settings.warmup)
    lo, hi = reads.window_bounds(now, settings.monitor.window)
    key_stats = await reads.window_stats(engine, lo, hi)
    async with engine.connect() as conn:
        members = await engine_store.load_members(conn)
        plans = await engine_store.load_plans(conn)
        open_alerts = {a.key: a for a in await engine_store.load_open_alerts(conn)}
        silences = await engine_store.load_silences(conn, now)
    warming = [p for p in plans if p.state != "completed"]
    stage_stats = await reads.warmup_stage_stats(engine, warming, hi)
    today_sent = await reads.warmup_sent_today(engine, warming, hi)
    decision = policy.evaluate(
        key_stats, members, plans, cfg, now, stage_stats=stage_stats, today_sent=today_sent
    )
    observations = list(decision.observations)
    configured = {s.name for s in settings.sources}
    if configured:
        sources = await reads.ingest_sources(engine)
        observations += stale_observations(sources, configured, now, settings.monitor.stale_after)

    outcome = CheckOutcome()
    changed_alerts: list[AlertState] = []
    transitions: list[Transition] = []
    to_notify: list[tuple[AlertState, str]] = []
    m = settings.monitor
    for obs in observations:
        key = alert_rules.dedup_key(obs.rule, obs.ip, obs.subuser)
        existing = open_alerts.get(key)
        if existing is None and obs.breach < Severity.WARNING:
            continue  # nothing open, nothing breached: the common case, skip the call
        alert, trans, notify = alert_rules.observe(
            existing, obs.rule, obs.ip, obs.subuser, obs.breach, obs.value, obs.sent, now,
            m.recover_checks, m.renotify_delta, alert_rules.is_silenced(silences.get(key), now),
            new_alert_id, obs.context,
        )  # fmt: skip
        if alert is not None and alert is not existing:
            changed_alerts.append(alert)
        transitions += trans
        for t in trans:
            if t.transition == "opened":
                outcome.alerts_opened += 1
            elif t.transition == "resolved":
                outcome.alerts_resolved += 1
        if notify and alert is not None:
            to_notify.append((alert, trans[-1].transition if trans else "update"))

    changed_members = [
        new for new, old in zip(decision.members, members, strict=True) if new is not old
    ]
    changed_plans = [new for new, old in zip(decision.plans, plans, strict=True) if new is not old]
    actions = [action_dict(a) for a in decision.actions]

    async with engine.begin() as conn:
        await engine_store.save_all(conn, engine_store.MEMBERS, changed_members)
        await engine_store.save_all(conn, engine_store.PLANS, changed_plans)
        await engine_store.save_all(conn, engine_store.ALERTS, changed_alerts)
        await engine_store.add_transitions(conn, transitions)
        for a in actions:
            await audit.record(conn, at=now, **audit_fields(a))
        outcome.enqueued = await enqueue_notices(
            conn, notifiers, to_notify, settings, now, cfg.window
        )
    outcome.actions = actions
    if hooks is not None:
        await run_hooks(engine, hooks, actions, now)
    return outcome


def action_dict(a: warmup.Action) -> dict[str, Any]:
    return {
        "action": a.name,
        "ip": a.ip,
        "pool": a.pool,
        "subuser": a.subuser,
        "reason": a.reason,
        "numbers": dict(a.numbers),
        "actor": a.actor,
    }


def audit_fields(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "actor": a["actor"],
        "action": a["action"],
        "ip": a["ip"],
        "pool": a["pool"],
        "subuser": a["subuser"],
        "reason": a["reason"],
        "detail": a["numbers"],
    }


async def enqueue_notices(
    conn: AsyncConnection,
    notifiers: Mapping[str, Any],
    alerts: list[tuple[AlertState, str]],
    settings: Settings,
    now: float,
    window: float,
) -> int:
    if not notifiers or not alerts:
        return 0
    outbox = OutboxStore(conn.engine)  # type: ignore[arg-type]
    n = 0
    for alert, transition in alerts:
        body = webhook_body(notice_of(alert, transition, settings.host, window), now)
        names = recipients(notifiers, alert.severity)
        if names:
            n += len(await outbox.enqueue(names, alert.id, body, now, conn=conn))
    return n


def notice_of(alert: AlertState, transition: str, host: str, window: float) -> AlertNotice:
    return AlertNotice(
        alert_id=alert.id,
        rule=alert.rule,
        severity=alert.severity,
        title=alert.title,
        message=alert.message,
        state=alert.state,
        ip=alert.ip,
        subuser=alert.subuser,
        value=alert.value,
        sent=alert.sent,
        window_seconds=window,
        bounce_rate=alert.value if alert.rule == alert_rules.BOUNCE_RATE else None,
        host=host,
        transition=transition,
    )


async def run_hooks(
    engine: AsyncEngine, hooks: HookRunner, actions: list[dict[str, Any]], now: float
) -> None:
    for a in actions:
        if not hooks.matching(a["action"]):
            continue
        outcomes = await hooks.run(a)
        async with engine.begin() as conn:
            for o in outcomes:
                await audit.record(
                    conn,
                    at=now,
                    actor="hook",
                    action=f"hook:{a['action']}",
                    ip=a["ip"],
                    pool=a["pool"],
                    subuser=a["subuser"],
                    reason="ok" if o.get("ok") else o.get("error") or f"exit {o.get('returncode')}",
                    detail=o,
                )
