"""``opsconsole report``: the per-IP report of spec section 6."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from opsconsole.cli._common import fail, parse_time, parse_window, run_async, write_private

if TYPE_CHECKING:
    from opsconsole.settings import Settings

HELP = """Per-IP delivery report over a window, with engine, warmups, pools and alerts.

\b
Examples:
  opsconsole report                                  # table, last monitor.window
  opsconsole report --format json --window 24h
  opsconsole report --format json --since 2026-03-02T10:00:00Z --until 2026-03-02T11:00:00Z
  opsconsole report --format csv --output ips.csv
  opsconsole report --format csv --section providers   # one line per ip x provider
"""


def register(app: typer.Typer) -> None:
    app.command("report", help=HELP)(report)


def report(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json, csv, markdown or table.")
    ] = "table",
    since: Annotated[str | None, typer.Option(help="Start, ISO 8601 (UTC if no offset).")] = None,
    until: Annotated[str | None, typer.Option(help="End, ISO 8601; default now.")] = None,
    window: Annotated[
        str | None, typer.Option(help="Length, e.g. 1h or 24h; relative to now unless --since.")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write to FILE (mode 0600).", metavar="FILE"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Deprecated: --format json.", hidden=True)
    ] = False,
    host: Annotated[
        str | None, typer.Option("--host", help="Only what this host of the fleet reads.")
    ] = None,
    section: Annotated[
        str, typer.Option(help="csv only: ips, or providers (one line per ip x provider).")
    ] = "ips",
) -> None:
    from opsconsole.cli._common import settings_from
    from opsconsole.render import CSV_SECTIONS, FORMATS

    if as_json:
        fmt = "json"
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if section not in CSV_SECTIONS:
        fail(f"--section must be one of {', '.join(CSV_SECTIONS)}, not {section!r}")
    t_since = parse_time(since, "--since") if since else None
    t_until = parse_time(until, "--until") if until else None
    win = parse_window(window) if window else None
    if t_since is not None and t_until is not None and t_since >= t_until:
        fail("--since must be before --until")
    settings = settings_from(ctx)
    text = run_async(_report, settings, fmt, t_since, t_until, win, output is None, host, section)
    if output:
        write_private(output, text)
        sys.stderr.write(f"report written to {output}\n")
    elif text:
        sys.stdout.write(text)


async def _report(
    settings: Settings,
    fmt: str,
    since: float | None,
    until: float | None,
    window: float | None,
    to_stdout: bool,
    host: str | None = None,
    section: str = "ips",
) -> str:
    from opsconsole.core.views import build_report
    from opsconsole.render import render
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config

    store = await open_store(settings.db, create=False)  # a report creates no database
    try:
        config = engine_config(settings)
        data = await build_report(store, config, since=since, until=until, window=window, host=host)
    finally:
        await store.close()
    if fmt == "table" and to_stdout and sys.stdout.isatty():
        from rich.console import Console

        from opsconsole.render import print_tables

        print_tables(data, Console(highlight=False))  # on a terminal: in colour
        return ""
    return render(data, fmt, section)
