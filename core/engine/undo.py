"""``undo ACTION_ID``: revert one audited action, the engine's own included (issue 12).

The inverse of each action is an ordinary operator change, audited with the operator's name
and ``undo of ID`` in its reason, and journaled to the MTA like any other change:

============================  ==================================================
undone                        becomes
============================  ==================================================
remove, deprioritize          restore (and the restore's operator hold-off)
restore                       remove (the hold-off ends)
recover                       deprioritize again (weight = base x factor)
set_weight                    the previous base weight
pause_warmup, hold_warmup     resume_warmup
resume_warmup                 pause_warmup
advance_warmup                rollback_warmup
rollback_warmup               advance_warmup
suspend_provider              resume_provider (the suspension is lifted)
============================  ==================================================

Anything else (alerts, silences, pool deletion, an undo itself) is refused as irreversible.
An action is undone at most once (``action_undo``); an action whose subject has moved on
meanwhile (undo a removal of an IP already restored) is refused by the transition itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from opsconsole.core.actions import Action
from opsconsole.core.config import EngineConfig
from opsconsole.core.durations import format_duration
from opsconsole.core.engine import handlers as h
from opsconsole.core.engine import holdoffs
from opsconsole.core.holdoff import ClearHoldoff, UndoMark
from opsconsole.core.ports import Changes, ControlTx

Entry = Mapping[str, Any]
Inverse = Callable[[ControlTx, EngineConfig, str, Entry, str, float], Awaitable[h.Result]]


def _args(entry: Entry, why: str, **extra: Any) -> dict[str, Any]:
    return {"pool": entry["pool"], "ip": entry["ip"], "reason": why, **extra}


async def _restore(
    tx: ControlTx, config: EngineConfig, actor: str, e: Entry, why: str, now: float
) -> h.Result:
    return await h.pool_restore(tx, config, actor, _args(e, why), now)


async def _remove(
    tx: ControlTx, config: EngineConfig, actor: str, e: Entry, why: str, now: float
) -> h.Result:
    result = await h.pool_remove(tx, config, actor, _args(e, why), now)
    await tx.write(Changes(holdoffs=[ClearHoldoff(e["pool"], e["ip"])]), now)
    return result


async def _deprioritize(
    tx: ControlTx, config: EngineConfig, actor: str, e: Entry, why: str, now: float
) -> h.Result:
    m = await h._member(tx, e["pool"], e["ip"])
    if m.state != "active":
        raise ValueError(f"{m.ip} in pool {m.pool} is {m.state}, not active: nothing to undo")
    text = f"deprioritized by {actor}: {why}"
    weight = m.base_weight * config.monitor.deprioritize_factor
    new = replace(m, state="deprioritized", weight=weight, healthy_checks=0,
                  state_reason=text, changed_at=now)  # fmt: skip
    await tx.write(Changes(members=[new]), now)
    nums: dict[str, float | int | str | None] = {
        "from": m.state,
        "base_weight": new.base_weight,
        "weight": new.weight,
    }
    act = Action("deprioritize", m.ip, m.pool, "", text, nums, actor)
    return text, await h._record(tx, [act], now)


_WEIGHT = re.compile(r"base weight ([0-9.eE+-]+) -> ")


async def _weight(
    tx: ControlTx, config: EngineConfig, actor: str, e: Entry, why: str, now: float
) -> h.Result:
    found = _WEIGHT.search(str(e.get("reason") or ""))
    if found is None:
        raise ValueError(f"action {e['id']} does not say the previous weight")
    return await h.pool_weight(tx, config, actor, _args(e, why, weight=found.group(1)), now)


def _warmup(handler: h.Handler) -> Inverse:
    async def inverse(
        tx: ControlTx, config: EngineConfig, actor: str, e: Entry, why: str, now: float
    ) -> h.Result:
        return await handler(tx, config, actor, {"ip": e["ip"], "reason": why}, now)

    return inverse


async def _resume_provider(
    tx: ControlTx, config: EngineConfig, actor: str, e: Entry, why: str, now: float
) -> h.Result:
    detail = e.get("detail") or {}
    provider = str(detail.get("provider") or "")
    if not provider:
        raise ValueError(f"action {e['id']} does not name its provider")
    act = Action("resume_provider", e["ip"], "", "", f"resumed by {actor}: {why}",
                 {"provider": provider}, actor, provider=provider)  # fmt: skip
    await tx.write(Changes(resumed=[(e["ip"], provider)]), now)
    return f"{e['ip']} resumed at {provider}", await h._record(tx, [act], now)


INVERSES: dict[str, Inverse] = {
    "remove": _restore,
    "deprioritize": _restore,
    "restore": _remove,
    "recover": _deprioritize,
    "set_weight": _weight,
    "pause_warmup": _warmup(h.warmup_resume),
    "hold_warmup": _warmup(h.warmup_resume),
    "resume_warmup": _warmup(h.warmup_pause),
    "advance_warmup": _warmup(h.warmup_rollback),
    "rollback_warmup": _warmup(h.warmup_advance),
    "suspend_provider": _resume_provider,
}


def _action_id(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"action id must be a number, got {value!r}") from None


async def undo(
    tx: ControlTx, config: EngineConfig, actor: str, args: h.Args, now: float
) -> h.Result:
    """The ``action.undo`` verb: ``id`` is the audit entry's id (``opsconsole audit``)."""
    reads = holdoffs.tx_reads(tx)
    if reads is None:
        raise ValueError("this store cannot read the audit log")
    audit_id = _action_id(args["id"])
    entry = await reads.audit_entry(audit_id)
    if entry is None:
        raise ValueError(f"no action with id {audit_id}")
    done = await reads.undone_by(audit_id)
    if done is not None:
        raise ValueError(f"action {audit_id} was already undone by {done['actor']}")
    inverse = INVERSES.get(str(entry["action"]))
    if inverse is None:
        raise ValueError(f"action {audit_id} ({entry['action']}) cannot be undone")
    message, actions = await inverse(tx, config, actor, entry, f"undo of {audit_id}", now)
    await tx.write(Changes(holdoffs=[UndoMark(audit_id, actor, now)]), now)
    return f"undo of {audit_id} ({entry['action']} {entry['ip']}): {message}", actions


class DryTx:
    """A command transaction that reads through ``tx`` and keeps every write: ``--dry-run``
    runs the real handler and shows what it would have changed."""

    def __init__(self, tx: ControlTx) -> None:
        self._tx = tx
        self.changes: list[Changes] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def write(self, changes: Changes, now: float) -> int:
        self.changes.append(changes)
        return 0

    async def finish(self, result: str) -> None:
        return None


def describe(
    changes: list[Changes], actions: list[dict[str, Any]], mta: bool, now: float
) -> list[str]:
    """The lines ``undo --dry-run`` prints: member and plan changes, audit entries, rows."""
    lines: list[str] = []
    for c in changes:
        for m in c.members:
            lines.append(f"member {m.pool} {m.ip}: {m.state} at weight {m.weight:g}")
        for p in c.plans:
            lines.append(f"warmup {p.ip}: {p.state} (stage {p.stage + 1})")
        for ip, prov in c.resumed:
            lines.append(f"suspension {ip} at {prov}: lifted")
        for op in c.holdoffs:
            kind = type(op).__name__
            if kind == "Holdoff":
                lines.append(f"hold-off {op.pool} {op.ip}: {format_duration(op.until - now)}")
            elif kind == "ClearHoldoff":
                lines.append(f"hold-off {op.pool} {op.ip}: ended")
        for a in c.audits:
            lines.append(f"audit: {a.actor} {a.action} {a.ip} {a.pool}: {a.reason}".rstrip())
    if mta and any(a.get("pool") for a in actions):
        lines.append("mta: one apply of the pools (opsconsole mta plan shows its commands)")
    return lines
