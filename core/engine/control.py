"""Operator commands, the one path by which people change state (CLI, TUI, palette).

A command is recorded in the command queue. If an engine holds the lease, it applies the
command on its next tick and this call waits for the result; with no engine running, the
command is applied here and now. Either way the change and its audit entry commit in one
transaction, and a command is applied exactly once (claimed by a conditional update).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsconsole.core.config import EngineConfig
from opsconsole.core.engine.handlers import VERBS
from opsconsole.core.engine.journal import entries_for, runner_for
from opsconsole.core.errors import UsageError
from opsconsole.core.ports import Changes, EngineStore, Fence


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    message: str  # one line for the operator: what changed, or why nothing did
    command_id: int | None = None


def validate(verb: str, args: Mapping[str, Any]) -> None:
    if verb not in VERBS:
        raise UsageError(f"unknown command {verb!r}")
    missing = [a for a in VERBS[verb].required if args.get(a) in (None, "")]
    if missing:
        raise UsageError(f"{verb} needs {', '.join(missing)}")


async def execute(
    store: EngineStore,
    config: EngineConfig,
    actor: str,
    verb: str,
    args: Mapping[str, Any],
    *,
    wait: float = 10.0,
    clock: Callable[[], float] = time.time,
) -> CommandResult:
    """Record the command; let the running engine apply it, or apply it here if none runs."""
    validate(verb, args)
    now = clock()
    cid = await store.submit(actor, verb, args, now)
    if await store.lease_held(now):
        row = await store.wait_applied(cid, wait)
        if row is None:
            return CommandResult(
                True, f"queued as command {cid}; the engine applies it on its next tick", cid
            )
    else:
        await apply_pending(store, config, clock, only=cid)
        await run_journal_here(store, config, clock, wait)
        row = await store.get(cid)
    assert row is not None
    if row["error"]:
        return CommandResult(False, row["error"], cid)
    return CommandResult(True, row["result"] or "done", cid)


async def run_journal_here(
    store: EngineStore, config: EngineConfig, clock: Callable[[], float], timeout: float
) -> None:
    """No engine runs: this process runs the command's hooks and MTA apply itself."""
    from opsconsole.core.notify.sender import make_client

    client = make_client() if config.mta is not None and config.mta.kind == "kumo" else None
    try:
        runner = runner_for(config, store, f"cli:{os.getpid()}", clock, lambda: True, dict, client)
        await runner.drain(timeout)
    finally:
        if client is not None:
            await client.aclose()


async def apply_pending(
    store: EngineStore,
    config: EngineConfig,
    clock: Callable[[], float] = time.time,
    only: int | None = None,
    fence: Fence | None = None,
) -> int:
    """Apply every unapplied command (or just ``only``), each in its own transaction,
    claimed so that no command is ever applied twice."""
    applied = 0
    for row in await store.pending(only):
        now = clock()
        actions: list[dict[str, Any]] = []
        try:
            async with store.claim(row["id"], now, fence) as tx:
                if tx is None:
                    continue
                verb = VERBS[row["verb"]]
                result, actions = await verb.handler(tx, config, row["actor"], row["args"], now)
                journal = entries_for(config.actions, config.mta is not None, actions)
                if journal:  # hooks and MTA applies commit with the command
                    await tx.write(Changes(journal=journal), now)
                await tx.finish(result)
        except (ValueError, UsageError) as e:
            await store.fail(row["id"], str(e), now)
        applied += 1
    return applied
