"""What each operator command does, inside the transaction that claims it.

Transitions are the pure core's (core.warmup, core.rotation, core.alerts); they raise
ValueError with an operator-readable reason when a command does not apply (pausing a
paused warmup), which the caller records as the command's error. Every change is audited
with the operator's name in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from opsconsole.core import alerts, rotation, warmup
from opsconsole.core.rotation import MemberState
from opsconsole.core.warmup import Action, PlanState
from opsconsole.storage import audit, engine_store
from opsconsole.storage.engine_store import MEMBERS, PLANS, load, to_row, upsert
from opsconsole.storage.tables import Pool

Result = tuple[str, list[dict[str, Any]]]
Handler = Callable[[AsyncConnection, Any, str, dict[str, Any], float], Awaitable[Result]]


async def _plan(conn: AsyncConnection, ip: str) -> PlanState:
    found = await load(conn, PlanState, PLANS, PLANS.c.ip == ip)
    if not found:
        raise ValueError(f"{ip} has no warmup plan")
    return found[0]


async def _member(conn: AsyncConnection, pool: str, ip: str) -> MemberState:
    found = await load(conn, MemberState, MEMBERS, MEMBERS.c.pool == pool, MEMBERS.c.ip == ip)
    if not found:
        raise ValueError(f"{ip} is not in pool {pool}")
    return found[0]


async def _members_of(conn: AsyncConnection, ip: str) -> list[MemberState]:
    return await load(conn, MemberState, MEMBERS, MEMBERS.c.ip == ip)


async def _record(conn: AsyncConnection, actions: list[Action], now: float) -> list[dict[str, Any]]:
    from opsconsole.core.engine.check import action_dict, audit_fields

    out = [action_dict(a) for a in actions]
    for a in out:
        await audit.record(conn, at=now, **audit_fields(a))
    return out


async def _audit_command(
    conn: AsyncConnection, actor: str, action: str, now: float, **kw: Any
) -> None:
    await audit.record(conn, at=now, actor=actor, action=action, **kw)


# --- warmups ------------------------------------------------------------------------------


async def warmup_start(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    ip = args["ip"]
    exists = (await conn.execute(select(PLANS.c.ip).where(PLANS.c.ip == ip))).first()
    if exists:
        raise ValueError(f"{ip} already has a warmup plan")
    schedules = warmup.schedules_from(settings.warmup)
    name = args.get("schedule") or settings.warmup.default_schedule
    if name not in schedules:
        raise ValueError(f"unknown schedule {name!r} (have: {', '.join(sorted(schedules))})")
    pool = args.get("pool")
    plan = warmup.start_plan(ip, schedules[name], pool, now)
    await upsert(conn, PLANS, to_row(plan))
    if pool:
        await _ensure_pool(conn, pool, now)
        try:
            member = await _member(conn, pool, ip)
        except ValueError:
            member = MemberState(pool=pool, ip=ip, changed_at=now)
        await upsert(conn, MEMBERS, to_row(rotation.start_warming(member, now)))
    quota = warmup.daily_quota(plan)
    await _audit_command(
        conn, actor, "start_warmup", now, ip=ip, pool=pool or "",
        reason=f"{name}: {warmup.stage_label(plan)}, {quota}/day",
    )  # fmt: skip
    return f"warmup of {ip} started on {name} ({quota}/day)", []


async def _plan_op(conn, actor, args, now, op) -> Result:  # type: ignore[no-untyped-def]
    plan = await _plan(conn, args["ip"])
    new, actions = op(plan)
    await upsert(conn, PLANS, to_row(new))
    if new.state == "completed":
        for m in await _members_of(conn, new.ip):
            await upsert(conn, MEMBERS, to_row(rotation.complete_warmup(m, now)))
    return new.state_reason or new.state, await _record(conn, actions, now)


async def warmup_pause(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    reason = args.get("reason") or f"by {actor}"
    return await _plan_op(
        conn, actor, args, now, lambda p: warmup.pause(p, reason, now, actor=actor)
    )


async def warmup_resume(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    return await _plan_op(
        conn, actor, args, now,
        lambda p: warmup.resume(p, now, actor=actor, reason=args.get("reason", "")),
    )  # fmt: skip


async def warmup_advance(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    return await _plan_op(conn, actor, args, now, lambda p: warmup.advance(p, now, actor=actor))


async def warmup_rollback(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    return await _plan_op(conn, actor, args, now, lambda p: warmup.rollback(p, now, actor=actor))


# --- pools --------------------------------------------------------------------------------


async def _ensure_pool(conn: AsyncConnection, name: str, now: float) -> None:
    t = Pool.__table__
    if not (await conn.execute(select(t.c.name).where(t.c.name == name))).first():
        await conn.execute(t.insert().values(name=name, created_at=now))


async def pool_add(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    pool, ip = args["pool"], args["ip"]
    weight = float(args.get("weight") or 100)
    q = select(MEMBERS.c.ip).where(MEMBERS.c.pool == pool, MEMBERS.c.ip == ip)
    if (await conn.execute(q)).first():
        raise ValueError(f"{ip} is already in pool {pool}")
    await _ensure_pool(conn, pool, now)
    m = MemberState(pool=pool, ip=ip, base_weight=weight, weight=weight,
                    daily_cap=args.get("daily_cap"), state_reason=f"added by {actor}",
                    changed_at=now)  # fmt: skip
    await upsert(conn, MEMBERS, to_row(m))
    await _audit_command(
        conn, actor, "pool_add", now, ip=ip, pool=pool, reason=f"weight {weight:g}"
    )
    return f"{ip} added to pool {pool} at weight {weight:g}", []


async def _member_op(conn, actor, args, now, op) -> Result:  # type: ignore[no-untyped-def]
    member = await _member(conn, args["pool"], args["ip"])
    new, actions = op(member)
    await upsert(conn, MEMBERS, to_row(new))
    return new.state_reason, await _record(conn, actions, now)


async def pool_remove(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    return await _member_op(
        conn, actor, args, now,
        lambda m: rotation.remove(m, now, actor=actor, reason=args.get("reason", "")),
    )  # fmt: skip


async def pool_restore(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    return await _member_op(
        conn, actor, args, now,
        lambda m: rotation.restore(m, now, actor=actor, reason=args.get("reason", "")),
    )  # fmt: skip


async def pool_weight(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    member = await _member(conn, args["pool"], args["ip"])
    weight = float(args["weight"])
    new = rotation.set_weight(member, weight, now, actor=actor)
    await upsert(conn, MEMBERS, to_row(new))
    await _audit_command(
        conn, actor, "set_weight", now, ip=new.ip, pool=new.pool,
        reason=f"base weight {member.base_weight:g} -> {weight:g}",
    )  # fmt: skip
    return new.state_reason, []


# --- alerts -------------------------------------------------------------------------------


async def _alert(conn: AsyncConnection, alert_id: str) -> alerts.AlertState:
    a = await engine_store.load_alert(conn, str(alert_id))
    if a is None:
        raise ValueError(f"no alert with id {alert_id}")
    return a


async def alert_ack(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    a, trans, _ = alerts.ack(await _alert(conn, args["id"]), actor, args.get("note") or "", now)
    await upsert(conn, engine_store.ALERTS, to_row(a))
    await engine_store.add_transitions(conn, trans)
    await _audit_command(conn, actor, "ack_alert", now, ip=a.ip, subuser=a.subuser,
                         reason=args.get("note") or a.title)  # fmt: skip
    return f"alert {a.id} acknowledged by {actor}", []


async def alert_resolve(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    from opsconsole.core.engine.check import enqueue_notices
    from opsconsole.core.notify.sender import build_notifiers

    a, trans, notify = alerts.resolve(
        await _alert(conn, args["id"]), actor, args.get("note") or "", now
    )
    await upsert(conn, engine_store.ALERTS, to_row(a))
    await engine_store.add_transitions(conn, trans)
    await _audit_command(conn, actor, "resolve_alert", now, ip=a.ip, subuser=a.subuser,
                         reason=args.get("note") or a.title)  # fmt: skip
    if notify and settings.notify:
        notifiers = build_notifiers(settings.notify, None)  # type: ignore[arg-type]  # not sent here
        await enqueue_notices(
            conn, notifiers, [(a, "resolved")], settings, now, settings.monitor.window
        )
    return f"alert {a.id} resolved by {actor}", []


async def alert_silence(conn, settings, actor, args, now) -> Result:  # type: ignore[no-untyped-def]
    ip, subuser = args["ip"], args.get("subuser") or ""
    seconds = float(args["seconds"])
    rules = [args["rule"]] if args.get("rule") else list(alerts.RULES)
    until = now + seconds
    for rule in rules:
        key = alerts.dedup_key(rule, ip, subuser)
        await upsert(
            conn,
            engine_store.SILENCES,
            {"key": key, "until": until, "actor": actor, "created_at": now},
        )
    from opsconsole.core.durations import format_duration

    who = ip + (f" (subuser {subuser})" if subuser else "")
    await _audit_command(conn, actor, "silence", now, ip=ip, subuser=subuser,
                         reason=f"{', '.join(rules)} for {format_duration(seconds)}")  # fmt: skip
    return f"notifications for {who} silenced for {format_duration(seconds)}", []


APPLY: dict[str, Handler] = {
    "warmup.start": warmup_start,
    "warmup.pause": warmup_pause,
    "warmup.resume": warmup_resume,
    "warmup.advance": warmup_advance,
    "warmup.rollback": warmup_rollback,
    "pool.add": pool_add,
    "pool.remove": pool_remove,
    "pool.restore": pool_restore,
    "pool.weight": pool_weight,
    "alert.ack": alert_ack,
    "alert.resolve": alert_resolve,
    "alert.silence": alert_silence,
}
