"""``opsconsole report``: the per-IP report of spec section 6."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

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


TOP_N = 50  # IP rows in the table and markdown formats (json and csv have every row)


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
    if fmt in ("json", "csv"):  # every row, streamed (issue 18.9)
        run_async(_streamed, settings, fmt, t_since, t_until, win, output, host, section)
        if output:
            sys.stderr.write(f"report written to {output}\n")
        return
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
    from opsconsole.core.report_stream import bounded_report
    from opsconsole.core.views import build_report
    from opsconsole.render import render
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config

    store = await open_store(settings.db, create=False)  # a report creates no database
    try:
        config = engine_config(settings)
        if fmt in ("table", "markdown"):  # the worst TOP_N IPs and the totals of all
            data = await bounded_report(
                store, config, TOP_N, since=since, until=until, window=window, host=host
            )
        else:
            data = await build_report(
                store, config, since=since, until=until, window=window, host=host
            )
    finally:
        await store.close()
    if fmt == "table" and to_stdout and sys.stdout.isatty():
        from rich.console import Console

        from opsconsole.render import print_tables

        print_tables(data, Console(highlight=False))  # on a terminal: in colour
        return ""
    return render(data, fmt, section)


async def _streamed(
    settings: Settings,
    fmt: str,
    since: float | None,
    until: float | None,
    window: float | None,
    output: str | None,
    host: str | None,
    section: str = "ips",
) -> None:
    """JSON or CSV written while the rows are read: memory independent of the IP count."""
    import os

    from opsconsole.core.report_stream import open_report
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config

    store = await open_store(settings.db, create=False)  # a report creates no database
    try:
        config = engine_config(settings)
        sr = await open_report(store, config, since=since, until=until, window=window, host=host)
        if output is None:
            await _write(sys.stdout, fmt, sr, section)
            sys.stdout.flush()
            return
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            f = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as e:
            fail(f"cannot write {output}: {e.strerror}")
        try:
            with f:
                await _write(f, fmt, sr, section)
        except OSError as e:
            fail(f"cannot write {output}: {e.strerror}")
    finally:
        await store.close()


async def _write(out: Any, fmt: str, sr: Any, section: str) -> None:
    from opsconsole import render
    from opsconsole.stream_out import write_csv, write_json

    if fmt == "json":
        await write_json(out, sr.head, {"ips": sr.rows(), "providers": sr.provider_rows()})
    elif section == "providers":
        await write_csv(out, render.PROVIDER_COLUMNS, sr.provider_rows(),
                        lambda row: [render.provider_line(row)])  # fmt: skip
    else:
        rep = render.reputation_of(sr.head)
        await write_csv(out, render.IP_COLUMNS, sr.rows(), lambda row: render.csv_lines(row, rep))
