"""``opsconsole undo ACTION_ID``: revert one audited action (core.engine.undo)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opsconsole.cli._common import fail
from opsconsole.cli._control import operator, read, run_command
from opsconsole.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command(
        "undo",
        help="Revert one action of the audit log, the engine's own included: a removal is "
        "restored (with the restore's hold-off), a restore removed again, a deprioritized IP "
        "gets its weight back, a paused warmup resumes, a provider suspension is lifted. "
        "ACTION_ID is the id column of `opsconsole audit`.\n\n"
        "\b\nExamples:\n  opsconsole undo 42 --dry-run\n  opsconsole undo 42",
    )(undo_cmd)


async def _lift_calls(store: Any, config: Any, changes: Any, now: float) -> list[str]:
    """The MTA calls that lifting the undone provider suspensions would run."""
    if config.mta is None:
        return []
    from opsconsole.cli.mta import _applier
    from opsconsole.core.mta.suspensions import suspender_for

    lifted = [key for c in changes for key in c.resumed]
    if not lifted:
        return []
    s = suspender_for(config, store, _applier(store, config), lambda: now)
    lines = []
    for ip, prov in lifted:
        plan = await s.plan_one(ip, prov, now, wanted={})
        lines += [f"mta: {line}" for line in plan.describe()]
    return lines


def undo_cmd(
    ctx: typer.Context,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="The audit entry's id.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
) -> None:
    if not dry_run:
        run_command(ctx, "action.undo", {"id": action_id})
        return

    async def preview(store: Any, config: Any) -> tuple[str | None, list[str]]:
        import time

        from opsconsole.core.engine.undo import DryTx, describe, undo

        now = time.time()
        async with store.transaction() as tx:
            dry = DryTx(tx)
            try:
                message, actions = await undo(dry, config, operator(), {"id": action_id}, now)
            except ValueError as e:
                return str(e), []
        return None, [
            f"would {message}",
            *describe(dry.changes, actions, config.mta is not None, now),
            *await _lift_calls(store, config, dry.changes, now),
        ]

    error, lines = read(ctx, preview)
    if error is not None:
        fail(error, ExitCode.USAGE)
    for line in lines:
        typer.echo(line)
