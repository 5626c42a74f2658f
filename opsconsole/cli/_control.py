"""Shared plumbing of the control commands (warmup, pools, alerts): run one operator
command through opsconsole.core.engine.control and print its one-line result."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Any

import typer

from opsconsole.cli._common import fail, run_async
from opsconsole.errors import ExitCode

if TYPE_CHECKING:
    from opsconsole.core.engine.control import CommandResult


def operator() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:
        return "operator"


def run_command(
    ctx: typer.Context, verb: str, args: dict[str, Any], actor: str | None = None
) -> None:
    from opsconsole.cli._common import settings_from

    settings = settings_from(ctx)

    async def go() -> CommandResult:
        from opsconsole.core.engine.control import execute
        from opsconsole.storage.store import open_store
        from opsconsole.wiring import engine_config

        store = await open_store(settings.db)
        try:
            return await execute(store, engine_config(settings), actor or operator(), verb, args)
        finally:
            await store.close()

    result = run_async(go)
    if not result.ok:
        fail(result.message, ExitCode.USAGE)
    typer.echo(result.message)


def read(ctx: typer.Context, fn: Any, *args: Any) -> Any:
    """Run ``fn(store, config, *args)`` against the database and return its value."""
    from opsconsole.cli._common import settings_from

    settings = settings_from(ctx)

    async def go() -> Any:
        from opsconsole.storage.store import open_store
        from opsconsole.wiring import engine_config

        store = await open_store(settings.db)
        try:
            return await fn(store, engine_config(settings), *args)
        finally:
            await store.close()

    return run_async(go)


def print_table(title: str, headers: list[str], rows: list[list[str]], as_json: Any = None) -> None:
    if as_json is not None:
        import json

        typer.echo(json.dumps(as_json, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for h in headers:
        if h in ("ip", "id"):
            table.add_column(h, no_wrap=True, min_width=15 if h == "ip" else 12)
        else:
            table.add_column(h)
    for r in rows:
        table.add_row(*r)
    Console().print(table)
    if not rows:
        typer.echo("(none)")
