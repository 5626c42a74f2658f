"""What each operator command does, inside the transaction that claims it, and the one
registry of verbs (:data:`VERBS`): the CLI, the TUI and the palette all submit these.

Transitions are the pure core's (core.warmup, core.rotation, core.alerts); they raise
ValueError with an operator-readable reason when a command does not apply (pausing a
paused warmup), which the caller records as the command's error. Every change is audited
with the operator's name in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsconsole.core import alerts, holdoff, rotation, warmup
from opsconsole.core.actions import Action
from opsconsole.core.config import EngineConfig
from opsconsole.core.durations import format_duration
from opsconsole.core.engine import holdoffs
from opsconsole.core.engine.check import action_dict, audit_entry, notices
from opsconsole.core.notify.kinds import gates
from opsconsole.core.ports import AuditEntry, Changes, ControlTx
from opsconsole.core.rotation import MemberState
from opsconsole.core.warmup import PlanState
from opsconsole.core.windows import window_bounds

Args = Mapping[str, Any]
# (one line for the operator, the actions whose hooks are due)
Result = tuple[str, list[dict[str, Any]]]
Handler = Callable[[ControlTx, EngineConfig, str, Args, float], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Verb:
    required: tuple[str, ...]
    handler: Handler


async def _plan(tx: ControlTx, ip: str) -> PlanState:
    found = await tx.plan(ip)
    if found is None:
        raise ValueError(f"{ip} has no warmup plan")
    return found


async def _member(tx: ControlTx, pool: str, ip: str) -> MemberState:
    found = await tx.member(pool, ip)
    if found is None:
        raise ValueError(f"{ip} is not in pool {pool}")
    return found


async def _record(tx: ControlTx, actions: Sequence[Action], now: float) -> list[dict[str, Any]]:
    out = [action_dict(a) for a in actions]
    await tx.write(Changes(audits=[audit_entry(a) for a in out]), now)
    return out


async def _audit(tx: ControlTx, actor: str, action: str, now: float, **kw: Any) -> None:
    await tx.write(Changes(audits=[AuditEntry(actor=actor, action=action, **kw)]), now)


# --- warmups ------------------------------------------------------------------------------


async def warmup_start(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    ip = args["ip"]
    if await tx.plan(ip) is not None:
        raise ValueError(f"{ip} already has a warmup plan")
    schedules = warmup.schedules_from(config.warmup)
    name = args.get("schedule") or config.warmup.default_schedule
    if name not in schedules:
        raise ValueError(f"unknown schedule {name!r} (have: {', '.join(sorted(schedules))})")
    pool = args.get("pool")
    if pool:
        await _known_pool(tx, pool, args)
    plan = warmup.start_plan(ip, schedules[name], pool, now)
    changes = Changes(plans=[plan])
    if pool:
        await tx.ensure_pool(pool, now)
        member = await tx.member(pool, ip) or MemberState(pool=pool, ip=ip, changed_at=now)
        changes.members.append(rotation.start_warming(member, now))
    quota = warmup.daily_quota(plan)
    changes.audits.append(
        AuditEntry(
            actor,
            "start_warmup",
            ip=ip,
            pool=pool or "",
            reason=f"{name}: {warmup.stage_label(plan)}, {quota}/day",
        )
    )
    await tx.write(changes, now)
    return f"warmup of {ip} started on {name} ({quota}/day)", []


PlanOp = Callable[[PlanState], tuple[PlanState, list[Action]]]


async def _plan_op(tx: ControlTx, args: Args, now: float, op: PlanOp) -> Result:
    plan = await _plan(tx, args["ip"])
    new, actions = op(plan)
    changes = Changes(plans=[new])
    if new.state == "completed":
        changes.members = [rotation.complete_warmup(m, now) for m in await tx.members_of(new.ip)]
    await tx.write(changes, now)
    return new.state_reason or new.state, await _record(tx, actions, now)


async def warmup_pause(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    reason = args.get("reason") or f"by {actor}"
    return await _plan_op(tx, args, now, lambda p: warmup.pause(p, reason, now, actor=actor))


async def warmup_resume(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    reason = args.get("reason", "")
    return await _plan_op(
        tx, args, now, lambda p: warmup.resume(p, now, actor=actor, reason=reason)
    )


async def warmup_advance(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    return await _plan_op(tx, args, now, lambda p: warmup.advance(p, now, actor=actor))


async def warmup_rollback(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    return await _plan_op(tx, args, now, lambda p: warmup.rollback(p, now, actor=actor))


async def warmup_cancel(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    """Drop an IP's plan; its warming memberships leave their pools (audited)."""
    plan = await _plan(tx, args["ip"])
    gone = [m for m in await tx.members_of(plan.ip) if m.state == "warming"]
    for m in gone:
        await tx.delete_member(m.pool, m.ip)
    await tx.delete_plan(plan.ip)
    reason = args.get("reason") or f"by {actor}"
    await _audit(tx, actor, "cancel_warmup", now, ip=plan.ip, pool=plan.pool or "",
                 reason=f"{reason} (was {warmup.stage_label(plan)}, {plan.state})")  # fmt: skip
    left = f"; left {', '.join(m.pool for m in gone)}" if gone else ""
    return f"warmup of {plan.ip} cancelled{left}", []


# --- pools --------------------------------------------------------------------------------


async def _known_pool(tx: ControlTx, pool: str, args: Args) -> None:
    """A pool that does not exist is refused unless ``create`` (a typo never makes one)."""
    if not args.get("create") and not await tx.pool_exists(pool):
        raise ValueError(f"no pool {pool!r} (add --create to create it)")


async def pool_delete(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    pool = args["pool"]
    if not await tx.pool_exists(pool):
        raise ValueError(f"no pool {pool!r}")
    members = await tx.pool_members(pool)
    if members and not args.get("force"):
        raise ValueError(f"pool {pool} has {len(members)} member(s): remove them or add --force")
    for m in members:
        await tx.delete_member(pool, m.ip)
    await tx.delete_pool(pool)
    ips = ", ".join(m.ip for m in members)
    await _audit(tx, actor, "pool_delete", now, pool=pool,
                 reason=f"members: {ips}" if ips else "empty")  # fmt: skip
    return f"pool {pool} deleted" + (f" with {len(members)} member(s)" if members else ""), []


async def pool_add(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    pool, ip = args["pool"], args["ip"]
    weight = float(args.get("weight") or 100)
    if await tx.member(pool, ip) is not None:
        raise ValueError(f"{ip} is already in pool {pool}")
    await _known_pool(tx, pool, args)
    await tx.ensure_pool(pool, now)
    m = MemberState(pool=pool, ip=ip, base_weight=weight, weight=weight,
                    daily_cap=args.get("daily_cap"), state_reason=f"added by {actor}",
                    changed_at=now)  # fmt: skip
    audit = AuditEntry(actor, "pool_add", ip=ip, pool=pool, reason=f"weight {weight:g}")
    await tx.write(Changes(members=[m], audits=[audit]), now)
    return f"{ip} added to pool {pool} at weight {weight:g}", []


MemberOp = Callable[[MemberState], tuple[MemberState, list[Action]]]


async def _member_op(tx: ControlTx, args: Args, now: float, op: MemberOp) -> Result:
    member = await _member(tx, args["pool"], args["ip"])
    new, actions = op(member)
    await tx.write(Changes(members=[new]), now)
    return new.state_reason, await _record(tx, actions, now)


async def pool_remove(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    reason = args.get("reason", "")
    result = await _member_op(
        tx, args, now, lambda m: rotation.remove(m, now, actor=actor, reason=reason)
    )
    await tx.write(Changes(holdoffs=[holdoff.ClearHoldoff(args["pool"], args["ip"])]), now)
    return result


async def pool_restore(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    reason = args.get("reason", "")
    result = await _member_op(
        tx, args, now, lambda m: rotation.restore(m, now, actor=actor, reason=reason)
    )
    return await start_holdoff(tx, config, actor, args["pool"], args["ip"], now, result)


async def pool_weight(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    member = await _member(tx, args["pool"], args["ip"])
    weight = float(args["weight"])
    new = rotation.set_weight(member, weight, now, actor=actor)
    audit = AuditEntry(actor, "set_weight", ip=new.ip, pool=new.pool,
                       reason=f"base weight {member.base_weight:g} -> {weight:g}")  # fmt: skip
    await tx.write(Changes(members=[new], audits=[audit]), now)
    return new.state_reason, []


async def start_holdoff(
    tx: ControlTx, config: EngineConfig, actor: str, pool: str, ip: str, now: float, result: Result
) -> Result:
    """A restore by hand holds: the engine alerts but does not act on it again for
    ``restore_holdoff`` unless its rate gets clearly worse (core.holdoff)."""
    reads = holdoffs.tx_reads(tx)
    if reads is None:
        return result
    lo, hi = window_bounds(now, config.monitor.window)
    h = holdoff.start(
        pool, ip, actor, await reads.ip_stats(ip, lo, hi), holdoffs.config_of(config), now
    )
    if h is None:
        return result
    await tx.write(Changes(holdoffs=[h]), now)
    return f"{result[0]}; hold-off {format_duration(h.until - now)}", result[1]


# --- alerts -------------------------------------------------------------------------------


async def _alert(tx: ControlTx, alert_id: str) -> alerts.AlertState:
    a = await tx.alert(str(alert_id))
    if a is None:
        raise ValueError(f"no alert with id {alert_id}")
    return a


async def alert_ack(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    note = args.get("note") or ""
    a, trans, _ = alerts.ack(await _alert(tx, args["id"]), actor, note, now)
    audit = AuditEntry(actor, "ack_alert", ip=a.ip, subuser=a.subuser, reason=note or a.title)
    changes = Changes(alerts=[a], transitions=list(trans), audits=[audit])
    if (
        a.notified_severity is not None
    ):  # notifiers that want acks (kinds.WANTS_ACKS): PagerDuty acknowledges
        changes.notices = notices(
            gates(config.notify), [(a, "acknowledged")], config.host,
            config.monitor.window, now,
        )  # fmt: skip
    await tx.write(changes, now)
    return f"alert {a.id} acknowledged by {actor}", []


async def alert_resolve(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    note = args.get("note") or ""
    a, trans, notify = alerts.resolve(await _alert(tx, args["id"]), actor, note, now)
    audit = AuditEntry(actor, "resolve_alert", ip=a.ip, subuser=a.subuser, reason=note or a.title)
    changes = Changes(alerts=[a], transitions=list(trans), audits=[audit])
    if notify:
        changes.notices = notices(
            gates(config.notify), [(a, "resolved")], config.host,
            config.monitor.window, now,
        )  # fmt: skip
    await tx.write(changes, now)
    return f"alert {a.id} resolved by {actor}", []


async def alert_silence(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    ip, subuser = args["ip"], args.get("subuser") or ""
    seconds = float(args["seconds"])
    if args.get("rule") and args["rule"] not in alerts.RULES:
        known = ", ".join(sorted(alerts.RULES))
        raise ValueError(f"unknown alert rule {args['rule']!r} (known: {known})")
    rules = [args["rule"]] if args.get("rule") else list(alerts.RULES)
    for rule in rules:
        await tx.silence(alerts.dedup_key(rule, ip, subuser), now + seconds, actor, now)
    who = ip + (f" (subuser {subuser})" if subuser else "")
    await _audit(tx, actor, "silence", now, ip=ip, subuser=subuser,
                 reason=f"{', '.join(rules)} for {format_duration(seconds)}")  # fmt: skip
    return f"notifications for {who} silenced for {format_duration(seconds)}", []


async def alert_unsilence(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    """Delete a silence (``alerts silence delete KEY``): it expires now, audited."""
    key = str(args["key"])
    rule, _, rest = key.partition("|")
    ip, _, subuser = rest.partition("|")
    await tx.silence(key, now, actor, now)
    await _audit(tx, actor, "unsilence", now, ip=ip, subuser=subuser, reason=rule)
    return f"silence {key} deleted", []


async def action_undo(
    tx: ControlTx, config: EngineConfig, actor: str, args: Args, now: float
) -> Result:
    """Revert one audited action (core.engine.undo, which builds on the handlers here)."""
    from opsconsole.core.engine import undo

    return await undo.undo(tx, config, actor, args, now)


# verb -> required arguments and what it does (optional arguments in comments)
VERBS: dict[str, Verb] = {
    "warmup.start": Verb(("ip",), warmup_start),  # schedule, pool, create
    "warmup.pause": Verb(("ip",), warmup_pause),  # reason
    "warmup.resume": Verb(("ip",), warmup_resume),
    "warmup.advance": Verb(("ip",), warmup_advance),
    "warmup.rollback": Verb(("ip",), warmup_rollback),
    "warmup.cancel": Verb(("ip",), warmup_cancel),  # reason
    "pool.add": Verb(("pool", "ip"), pool_add),  # weight, daily_cap, create
    "pool.remove": Verb(("pool", "ip"), pool_remove),  # reason
    "pool.restore": Verb(("pool", "ip"), pool_restore),
    "pool.weight": Verb(("pool", "ip", "weight"), pool_weight),
    "pool.delete": Verb(("pool",), pool_delete),  # force
    "alert.ack": Verb(("id",), alert_ack),  # note
    "alert.resolve": Verb(("id",), alert_resolve),  # note
    "alert.silence": Verb(("ip", "seconds"), alert_silence),  # subuser, rule
    "alert.unsilence": Verb(("key",), alert_unsilence),
    "action.undo": Verb(("id",), action_undo),  # undo an audited action (core.engine.undo)
}
