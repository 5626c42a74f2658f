"""Operator commands, the one path by which people change state (CLI, TUI, palette).

A command is recorded in the ``command`` table. If an engine holds the lease, it applies
the command on its next tick and this call waits for the result; with no engine running,
the command is applied here and now. Either way the change and its audit entry commit in
one transaction, and a command is applied exactly once (claimed by a conditional UPDATE).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.errors import UsageError

# verb -> required argument names (the TUI and CLI build these dicts)
VERBS: dict[str, tuple[str, ...]] = {
    "warmup.start": ("ip",),  # optional: schedule, pool
    "warmup.pause": ("ip",),  # optional: reason
    "warmup.resume": ("ip",),
    "warmup.advance": ("ip",),
    "warmup.rollback": ("ip",),
    "pool.add": ("pool", "ip"),  # optional: weight, daily_cap
    "pool.remove": ("pool", "ip"),  # optional: reason
    "pool.restore": ("pool", "ip"),
    "pool.weight": ("pool", "ip", "weight"),
    "alert.ack": ("id",),  # optional: note
    "alert.resolve": ("id",),  # optional: note
    "alert.silence": ("ip", "seconds"),  # optional: subuser, rule
}


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    message: str  # one line for the operator: what changed, or why nothing did
    command_id: int | None = None


# --- submitting ---------------------------------------------------------------------------


def validate(verb: str, args: dict[str, Any]) -> None:
    if verb not in VERBS:
        raise UsageError(f"unknown command {verb!r}")
    missing = [a for a in VERBS[verb] if args.get(a) in (None, "")]
    if missing:
        raise UsageError(f"{verb} needs {', '.join(missing)}")


async def execute(
    engine: AsyncEngine,
    settings: Any,
    actor: str,
    verb: str,
    args: dict[str, Any],
    *,
    wait: float = 10.0,
    clock: Callable[[], float] = time.time,
) -> CommandResult:
    """Record the command; let the running engine apply it, or apply it here if none runs."""
    from opsconsole.storage import control_queue, reads

    validate(verb, args)
    now = clock()
    cid = await control_queue.submit(engine, actor, verb, args, now)
    lease = await reads.read_lease(engine)
    if lease is not None and lease["expires_at"] > now:
        row = await control_queue.wait_applied(engine, cid, wait)
        if row is None:
            return CommandResult(
                True, f"queued as command {cid}; the engine applies it on its next tick", cid
            )
    else:
        await apply_pending(engine, settings, clock, only=cid)
        row = await control_queue.get(engine, cid)
    assert row is not None
    if row["error"]:
        return CommandResult(False, row["error"], cid)
    return CommandResult(True, row["result"] or "done", cid)


# --- applying -----------------------------------------------------------------------------


async def apply_pending(
    engine: AsyncEngine,
    settings: Any,
    clock: Callable[[], float] = time.time,
    only: int | None = None,
) -> int:
    """Apply every unapplied command (or just ``only``), each in its own transaction,
    claimed by a conditional UPDATE so that no command is ever applied twice."""
    from opsconsole.storage import control_queue

    rows = await control_queue.pending(engine)
    if only is not None:
        rows = [r for r in rows if r["id"] == only]
    applied = 0
    for row in rows:
        now = clock()
        actions: list[dict[str, Any]] = []
        try:
            async with engine.begin() as conn:
                claim = await conn.execute(
                    text(
                        "UPDATE command SET applied_at = :now WHERE id = :id AND applied_at IS NULL"
                    ),
                    {"now": now, "id": row["id"]},
                )
                if claim.rowcount != 1:
                    continue
                result, actions = await _apply(conn, settings, row, now)
                await conn.execute(
                    text("UPDATE command SET result = :r WHERE id = :id"),
                    {"r": result, "id": row["id"]},
                )
        except (ValueError, UsageError) as e:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE command SET applied_at = :now, error = :e"
                        " WHERE id = :id AND applied_at IS NULL"
                    ),
                    {"now": now, "e": str(e), "id": row["id"]},
                )
        applied += 1
        if actions and settings.actions:
            from opsconsole.core.engine.check import run_hooks
            from opsconsole.core.engine.hooks import HookRunner

            await run_hooks(engine, HookRunner(settings.actions), actions, now)
    return applied


async def _apply(
    conn: AsyncConnection, settings: Any, row: dict[str, Any], now: float
) -> tuple[str, list[dict[str, Any]]]:
    from opsconsole.core.engine.handlers import APPLY

    return await APPLY[row["verb"]](conn, settings, row["actor"], row["args"], now)
