"""One engine check: read the state, run the pure policy (core.policy/alerts), persist.

The decision and everything it changes (members, plans, alerts and their history, audit
entries, outbox rows) commit in one transaction through :class:`CheckStore.commit`.
Action hooks and MTA applies are journal rows in that same transaction; the journal runner
(core.engine.journal) runs them off the loop and audits each outcome.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsconsole.core import alerts as alert_rules
from opsconsole.core import health, holdoff, policy
from opsconsole.core.actions import Action
from opsconsole.core.alerts import AlertState
from opsconsole.core.config import AlertGroupConfig, EngineConfig
from opsconsole.core.engine import holdoffs, provider_check
from opsconsole.core.engine.journal import entries_for
from opsconsole.core.notify import grouping
from opsconsole.core.notify.kinds import recipients_for
from opsconsole.core.notify.payload import AlertNotice, iso_millis, webhook_body
from opsconsole.core.ports import AuditEntry, Changes, CheckStore, EngineState, Fence, Notice
from opsconsole.core.stats import Severity
from opsconsole.core.windows import window_bounds

# Notifier name -> its min_severity (or the notifier itself): who gets which notice.
Recipients = Mapping[str, Any]


@dataclass
class CheckOutcome:
    actions: list[dict[str, Any]] = field(default_factory=list)
    alerts_opened: int = 0
    alerts_resolved: int = 0
    enqueued: int = 0
    # The alerts open after this check (as committed): the Alertmanager re-send's input.
    open_alerts: list[AlertState] = field(default_factory=list)


def new_alert_id() -> str:
    return uuid.uuid4().hex[:12]


async def run_check(
    store: CheckStore,
    config: EngineConfig,
    now: float,
    notifiers: Recipients,
    fence: Fence | None = None,
) -> tuple[CheckOutcome, list[dict[str, Any]]]:
    """Decide and commit; return the outcome and the actions whose hooks are due. With
    ``fence``, a lease lost meanwhile raises LeaseLost and nothing is committed."""
    m = config.monitor
    cfg = policy.PolicyConfig.from_config(m, config.warmup)
    lo, hi = window_bounds(now, m.window)
    state = await store.engine_state(now)
    members, plans = state.members, state.plans
    warming = [p for p in plans if p.state != "completed"]
    stage_stats = await store.warmup_stage_stats(warming, hi)
    today_sent = await store.warmup_sent_today(warming, hi)
    hreads = holdoffs.reads_of(store)
    hstate = await hreads.holdoff_state() if hreads is not None else None
    # Any number of IPs: the policy is fed a chunk of IPs at a time (issue 18.9).
    decision = await chunked_decision(
        store, lo, hi, state, cfg, now, stage_stats, today_sent, CHECK_CHUNK
    )
    # The hold-off rules read only the IPs in hold-off or with an expiring removal.
    held = {ip for _pool, ip in (*hstate.holdoffs, *hstate.expiries)} if hstate else set()
    key_stats = {(ip, ""): await store.ip_window_stats(ip, lo, hi) for ip in sorted(held)}
    hold_ops: list[Any] = []
    if hstate is not None:  # operator hold-offs, expiry of engine removals (core.holdoff)
        decision, hold_ops = holdoff.adjust(
            decision, members, key_stats, hstate,
            holdoffs.config_of(config), m.thresholds, now,
        )  # fmt: skip
    observations = list(decision.observations)
    pdec = await provider_check.decide(store, config, state, now, lo, hi)
    configured = {s.name for s in config.sources}
    if configured:
        sources = await store.ingest_sources()
        observations += health.stale_observations(sources, configured, now, m.stale_after)

    outcome = CheckOutcome()
    changes = Changes()
    to_notify: list[tuple[AlertState, str]] = []
    providers: dict[str, str] = {}  # alert id -> provider, when the observation names one
    # One loop for the IP-wide and the provider-scoped readings.
    for obs in (*observations, *pdec.observations):
        provider = obs.provider or str((obs.context or {}).get("provider") or "")
        subuser = obs.subuser
        key = alert_rules.dedup_key(obs.rule, obs.ip, subuser, provider)
        existing = state.open_alerts.get(key)
        if existing is None and obs.breach < Severity.WARNING:
            continue  # nothing open, nothing breached: the common case, skip the call
        silenced = alert_rules.is_silenced(state.silences.get(key), now)
        alert, trans, notify = alert_rules.observe(
            existing, obs.rule, obs.ip, subuser, obs.breach, obs.value, obs.sent, now,
            m.recover_checks, m.renotify_delta, silenced, new_alert_id, obs.context, provider,
        )  # fmt: skip
        if alert is not None and alert is not existing:
            changes.alerts.append(alert)
        changes.transitions += trans
        for t in trans:
            if t.transition == "opened":
                outcome.alerts_opened += 1
            elif t.transition == "resolved":
                outcome.alerts_resolved += 1
        if alert is not None and provider:
            providers[alert.id] = provider
        if notify and alert is not None:
            to_notify.append((alert, trans[-1].transition if trans else "update"))
    changes.suspensions = list(pdec.suspend)
    changes.holdoffs = hold_ops
    changes.resumed = list(pdec.resume)

    changes.members = [
        new for new, old in zip(decision.members, members, strict=True) if new is not old
    ]
    changes.plans = [new for new, old in zip(decision.plans, plans, strict=True) if new is not old]
    actions = [action_dict(a) for a in (*decision.actions, *pdec.actions)]
    changes.audits = [audit_entry(a) for a in actions]
    pools = {mem.ip: mem.pool for mem in decision.members}
    changes.notices = notices(
        notifiers, to_notify, config.host, cfg.window, now, pools=pools,
        providers=providers, group=config.alerts,
    )  # fmt: skip
    changes.journal = entries_for(config.actions, config.mta is not None, actions)
    outcome.enqueued = await store.commit(changes, now, fence)
    outcome.actions = actions
    after = {a.id: a for a in state.open_alerts.values()}
    after.update({a.id: a for a in changes.alerts})
    outcome.open_alerts = [a for a in after.values() if a.state != "resolved"]
    return outcome, actions


CHECK_CHUNK = 2000  # IPs per chunk of the check's window read


def observed(obs: policy.Observation, state: EngineState) -> bool:
    """What the check's alert loop acts on: a breach, or the key's open alert."""
    if obs.breach >= Severity.WARNING:
        return True
    provider = obs.provider or str((obs.context or {}).get("provider") or "")
    return alert_rules.dedup_key(obs.rule, obs.ip, obs.subuser, provider) in state.open_alerts


async def chunked_decision(
    store: Any,
    lo: int,
    hi: int,
    state: EngineState,
    cfg: policy.PolicyConfig,
    now: float,
    stage_stats: Mapping[str, Any],
    today_sent: Mapping[str, int],
    chunk: int,
) -> policy.Decision:
    """``policy.evaluate`` over the window, fed ``chunk`` IPs at a time in address order."""
    from opsconsole.core.engine.check_chunks import ChunkedPolicy

    run = ChunkedPolicy(
        state.members, state.plans, cfg, now, lambda o: observed(o, state),
        stage_stats=stage_stats, today_sent=today_sent,
    )  # fmt: skip
    chunks = store.key_chunks(lo, hi, "ip", chunk)
    async with contextlib.aclosing(chunks):  # a cancelled check frees its cursor now
        async for rows in chunks:
            run.feed(rows)
    return run.finish()


def action_dict(a: Action) -> dict[str, Any]:
    return {
        "action": a.name,
        "ip": a.ip,
        "pool": a.pool,
        "subuser": a.subuser,
        "reason": a.reason,
        "numbers": dict(a.numbers),
        "actor": a.actor,
        "provider": a.provider,
        "domains": ",".join(a.domains),
    }


def audit_entry(a: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(
        actor=a["actor"],
        action=a["action"],
        ip=a["ip"],
        pool=a["pool"],
        subuser=a["subuser"],
        reason=a["reason"],
        detail=a["numbers"],
    )


def notices(
    notifiers: Recipients,
    alerts: Sequence[tuple[AlertState, str]],
    host: str,
    window: float,
    now: float,
    *,
    pools: Mapping[str, str] | None = None,
    providers: Mapping[str, str] | None = None,
    group: AlertGroupConfig | None = None,
) -> list[Notice]:
    """The outbox rows for these alert transitions, each addressed to the notifiers that
    take it (severity, filters, acks: ``kinds.recipients_for``).

    Storm control (``group``): per notifier, the notices of one check are folded by
    ``grouping.group_notices`` (more than ``group_threshold`` of one provider/pool, rule
    and state become one grouped notice with its own stable id). Notifiers with
    ``inhibit`` drop IP-level notices of a pool that has a grouped (pool-wide) notice in
    this check."""
    bodies: list[dict[str, Any]] = []
    for alert, transition in alerts:
        body = webhook_body(notice_of(alert, transition, host, window), now)
        pool = (pools or {}).get(alert.ip)
        provider = (providers or {}).get(alert.id)
        body["pool"] = pool
        body["provider"] = provider
        body["opened_at"] = iso_millis(alert.opened_at)
        body["resolved_at"] = iso_millis(alert.resolved_at) if alert.resolved_at else None
        bodies.append(body)
    by_notifier: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        for name in recipients_for(notifiers, body):
            by_notifier.setdefault(name, []).append(body)
    # One Notice per distinct body: notifiers that got the same list share rows' bodies.
    out: dict[str, Notice] = {}
    order: list[str] = []
    for name, mine in by_notifier.items():
        sent = mine
        if group is not None:
            sent = grouping.group_notices(mine, group.group_threshold, group.group_by)  # type: ignore[arg-type]
            gate = getattr(notifiers.get(name), "gate", notifiers.get(name))
            if getattr(gate, "inhibit", False):
                pooled = {str(b.get("pool")) for b in sent if b.get("grouped") and b.get("pool")}
                sent = [b for b in sent if not grouping.inhibited(b, pooled)]
        for body in sent:
            key = str(body.get("notice_id") or f"{body['alert_id']}:{body.get('transition')}")
            if key in out:
                prev = out[key]
                out[key] = Notice((*prev.notifiers, name), prev.alert_id, prev.body)
            else:
                out[key] = Notice((name,), str(body["alert_id"]), body)
                order.append(key)
    return [out[k] for k in order]


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
        provider=alert.provider,
    )
