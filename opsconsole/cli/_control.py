"""Shared plumbing of the control commands (warmup, pools, alerts): run one operator
command through opsconsole.core.engine.control and print its one-line result."""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import fail, run_async
from opsconsole.errors import ExitCode
from opsconsole.output import Column

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


def read(ctx: typer.Context, fn: Any, *args: Any, create: bool = False) -> Any:
    """Run ``fn(store, config, *args)`` against the database and return its value. Only
    commands that act (``create=True``: pools apply, mta release) may create it."""
    from opsconsole.cli._common import settings_from

    settings = settings_from(ctx)

    async def go() -> Any:
        from opsconsole.storage.store import open_store
        from opsconsole.wiring import engine_config

        store = await open_store(settings.db, create=create)  # reading creates nothing
        try:
            return await fn(store, engine_config(settings), *args)
        finally:
            await store.close()

    return run_async(go)


# The options every list/show command takes (one spelling everywhere).
FormatOpt = Annotated[str, typer.Option("--format", help="table, json or csv.", metavar="FORMAT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Deprecated: --format json.", hidden=True)]
WideOpt = Annotated[bool, typer.Option("--wide", help="On a terminal: show every column.")]


def print_table(
    title: str,
    headers: Sequence[str | Column],
    rows: Sequence[Sequence[Any]],
    as_json: Any = None,
    *,
    fmt: str = "table",
    wide: bool = False,
    titled: bool = False,
) -> None:
    """Every list prints through here (opsconsole.output): plain columns in a pipe, a
    fitted Rich table on a terminal, json or csv on request. ``as_json`` (the JSON form)
    given means json, for callers of the old signature."""
    from opsconsole import output

    cols = [h if isinstance(h, Column) else Column(h) for h in headers]
    if as_json is not None:
        fmt = "json"
    output.emit(title, cols, rows, fmt=fmt, data=as_json, wide=wide, titled=titled)


def check_format(
    fmt: str, as_json: bool = False, allowed: Sequence[str] = ("table", "json", "csv")
) -> str:
    """The effective format: ``--json`` (deprecated) means json; exit 2 on an unknown one."""
    if as_json:  # deprecated alias, kept for scripts
        return "json"
    if fmt not in allowed:
        fail(f"--format must be one of {', '.join(allowed)}, not {fmt!r}")
    return fmt
