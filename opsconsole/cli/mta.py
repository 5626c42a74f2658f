"""``opsconsole mta plan|status|release``: what opsconsole would do to the MTA, what the MTA
really has, and giving back what opsconsole owns. ``pools apply`` (in pools.py) calls
:func:`apply_pools` here."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._control import operator, print_table, read

if TYPE_CHECKING:
    from opsconsole.core.config import EngineConfig
    from opsconsole.core.mta.engine import MtaApplier

mta_app = typer.Typer(
    help="The MTA adapter ([mta]): plan, real state and drift, release.\n\n\b\nExamples:\n"
    "  opsconsole mta plan\n  opsconsole mta status --json\n  opsconsole mta release",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(mta_app, name="mta")


def _applier(store: Any, config: EngineConfig) -> MtaApplier:
    from opsconsole.cli._common import fail
    from opsconsole.core.mta.apply import Runner
    from opsconsole.core.mta.engine import MtaApplier
    from opsconsole.errors import ExitCode

    if config.mta is None:
        fail("no [mta] section in the configuration", ExitCode.USAGE)
    assert config.mta is not None

    async def members(now: float) -> Any:
        return list((await store.engine_state(now)).members)

    import time

    return MtaApplier(
        config.mta, config.pools, members, store.journal(), Runner(env=config.mta.env), time.time
    )


async def plan_lines(store: Any, config: EngineConfig) -> list[str]:
    import time

    from opsconsole.core.mta.suspensions import suspender_for

    applier = _applier(store, config)
    plan, _ = await applier.plan()
    lines = plan.describe() or ["nothing to do: the MTA already has the desired pools"]
    for p, calls in await suspender_for(config, store, applier, time.time).pending(time.time()):
        verb = "suspend" if p.op == "suspend_provider" else "resume"
        lines += [f"{verb} {p.ip} at {p.provider}: {c}" for c in calls]
    return lines


async def apply_pools(store: Any, config: EngineConfig) -> str:
    """Queue one MTA apply in the journal (audited); run it here if no engine runs."""
    import time

    from opsconsole.core.engine.control import run_journal_here
    from opsconsole.core.engine.journal import mta_entry
    from opsconsole.core.ports import AuditEntry, Changes

    _applier(store, config)  # fails early without [mta]
    now = time.time()
    entry = AuditEntry(actor=operator(), action="mta.apply_requested", reason="pools apply")
    await store.commit(Changes(audits=[entry], journal=[mta_entry("pools apply")]), now)
    if await store.lease_held(now):
        return "queued: the engine applies it on its next round"
    await run_journal_here(store, config, time.time, 120.0)
    rows = [r for r in await store.journal().all_rows() if r["kind"] == "mta"]
    last = rows[-1] if rows else {}
    if last.get("state") == "done":
        return "applied"
    return f"apply {last.get('state', '?')}: {last.get('last_error') or ''}".rstrip(": ")


@mta_app.command("plan", help="Exactly which commands, files and API calls an apply would run.")
def plan(ctx: typer.Context) -> None:
    for line in read(ctx, plan_lines, create=True):
        typer.echo(line)


async def _status(store: Any, config: EngineConfig) -> dict[str, Any]:
    from opsconsole.core.mta.base import drift
    from opsconsole.core.mta.engine import pool_views

    a = _applier(store, config)
    desired = pool_views(config.pools, await a.members(a.clock()))
    actual = await a.adapter.read_state()
    return {
        "kind": a.config.kind,
        "owned": a.adapter.owned(),
        "pools": {
            name: [{"handle": m.handle, "weight": m.weight, "ip": m.ip} for m in members]
            for name, members in actual.pools.items()
        },
        "raw": dict(actual.raw),
        "errors": list(actual.errors),
        "drift": [d.describe() for d in drift(desired, actual)],
        "original_recorded": await store.journal().original(a.config.kind) is not None,
    }


@mta_app.command("status", help="What the MTA really has for each pool, and drift flags.")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    data = read(ctx, _status)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    rows = [
        [pool, m["handle"], f"{m['weight']:g}"] for pool, ms in data["pools"].items() for m in ms
    ]
    print_table(f"MTA ({data['kind']})", ["pool", "handle", "weight"], rows)
    for line in data["drift"] or ["no drift"]:
        typer.echo(f"drift: {line}" if data["drift"] else line)
    for e in data["errors"]:
        typer.echo(f"error: {e}")


async def _release(store: Any, config: EngineConfig) -> list[str]:
    import time

    from opsconsole.core.mta.apply import apply, outcome_json
    from opsconsole.core.ports import AuditEntry, Changes

    a = _applier(store, config)
    original = await store.journal().original(a.config.kind)
    if original is None:
        return ["nothing to release: opsconsole never wrote to this MTA"]
    plan = a.adapter.plan_release(original)
    result = await apply(plan.steps, a.runner)
    detail = json.loads(outcome_json(result))
    entry = AuditEntry(
        actor=operator(), action="mta.release", reason="ok" if result.ok else str(result.error),
        detail=detail,
    )  # fmt: skip
    await store.commit(Changes(audits=[entry]), time.time())
    if result.ok:
        await store.journal().forget_original(a.config.kind)
    lines = [
        f"{'ok ' if s.ok else 'FAIL'} {s.describe} (exit {s.returncode})" for s in result.steps
    ]
    return [*lines, "released" if result.ok else f"release failed: {result.error}"]


@mta_app.command("release", help="Put back what the MTA had before opsconsole's first write.")
def release(ctx: typer.Context) -> None:
    for line in read(ctx, _release, create=True):
        typer.echo(line)
