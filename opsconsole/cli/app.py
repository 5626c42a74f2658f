"""The ``opsconsole`` command line (typer).

Bare ``opsconsole`` opens the TUI; ``--no-ui`` runs the engine headless; sub-commands
script it. Sub-commands live one per module in ``opsconsole/cli/`` and register
themselves through ``register(app)``. Nothing here imports Textual except the TUI path.
"""

from __future__ import annotations

from typing import Annotated

import typer

from opsconsole.cli._common import Globals, fail

HELP = """Terminal operations console for email deliverability.

Bare `opsconsole` opens the live console; `--no-ui` runs the same engine headless.

\b
Examples:
  opsconsole --demo                      # live console on simulated traffic
  opsconsole ingest /var/log/pmta/acct-*.csv --format pmta
  opsconsole report --format json --window 1h
  opsconsole --no-ui --config /etc/opsconsole/config.toml
"""

app = typer.Typer(
    help=HELP,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="TOML config file.", metavar="FILE")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="OPSCONSOLE_DB",
            help="SQLAlchemy async URL (default: SQLite file in the XDG data directory).",
            metavar="URL",
        ),
    ] = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Run the engine headless.")] = False,
    once: Annotated[
        bool, typer.Option("--once", help="With --no-ui: read new lines, one check, exit.")
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Feed the built-in simulator (own database file).")
    ] = False,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="TUI: hide every key that changes state.")
    ] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="With --no-ui: plain or json.")
    ] = "plain",
) -> None:
    ctx.obj = Globals(config=config, db=db)
    if ctx.invoked_subcommand is not None:
        return
    if log_format not in ("plain", "json"):
        fail(f"--log-format must be plain or json, not {log_format!r}")
    if once and not no_ui:
        fail("--once goes with --no-ui")
    if no_ui:
        from opsconsole.headless import run_headless

        code = run_headless(ctx, once=once, demo=demo, log_format=log_format)
        raise typer.Exit(code)
    from opsconsole.tui_entry import run_tui

    raise typer.Exit(run_tui(ctx, demo=demo, read_only=read_only))


def _register_commands() -> None:
    import importlib
    import pkgutil

    from opsconsole import cli

    for mod in pkgutil.iter_modules(cli.__path__):
        if mod.name.startswith("_") or mod.name == "app":
            continue
        module = importlib.import_module(f"opsconsole.cli.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


_GLOBAL_VALUE_OPTIONS = ("--db", "--config", "-c")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move ``--db URL`` / ``--config FILE`` written after a sub-command to the front, so
    ``opsconsole report --db X`` works like ``opsconsole --db X report``."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest.extend(argv[i:])
            break
        if a in _GLOBAL_VALUE_OPTIONS and i + 1 < len(argv):
            front += [a, argv[i + 1]]
            i += 2
            continue
        if any(a.startswith(f"{o}=") for o in ("--db", "--config")):
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


def main() -> None:
    import sys

    app(args=hoist_global_options(sys.argv[1:]), prog_name="opsconsole")
