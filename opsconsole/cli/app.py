"""The ``opsconsole`` command line (typer).

Bare ``opsconsole`` opens the TUI; ``--no-ui`` runs the engine headless; sub-commands
script it. Sub-commands live one per module in ``opsconsole/cli/`` and register
themselves through ``register(app)``. Nothing here imports Textual except the TUI path.
"""

from __future__ import annotations

from typing import Annotated, Any

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
    add_completion=True,  # --install-completion / --show-completion
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("opsconsole")
        except PackageNotFoundError:
            v = "unknown"
        typer.echo(f"opsconsole {v}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
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


def _plain_metavars(command: Any) -> None:
    """Help without Python type names (``<list[str]>``, ``<float range>``): every value
    option and argument without a metavar gets its name in capitals."""
    for p in getattr(command, "params", []):
        if not hasattr(p, "opts") or p.opts == [p.name]:  # an argument: its name says it
            p.display_type_rich = lambda ctx=None: None
        if getattr(p, "metavar", "") is not None or getattr(p, "is_flag", False):
            continue
        if getattr(p, "count", False):
            continue
        name = (p.name or "value").upper().removesuffix("_")
        p.metavar = name + ("..." if p.nargs == -1 else "")
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def build_command() -> Any:
    command = typer.main.get_command(app)
    _plain_metavars(command)
    return command


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv``; the exit code. A usage error is ONE line on stderr (what
    is wrong, and where help is), exit 2: no box, no three-line click banner."""
    import sys

    from typer._click import exceptions as cx  # typer >= 0.2x vendors click here

    command = build_command()
    try:
        rv = command.main(
            args=hoist_global_options(argv), prog_name="opsconsole", standalone_mode=False
        )
    except cx.NoArgsIsHelpError as e:
        e.show()
        return e.exit_code
    except cx.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else "opsconsole"
        msg = " ".join(e.format_message().split())
        sys.stderr.write(f"opsconsole: {msg} (see '{where} --help')\n")
        return 2
    except typer.Abort:
        sys.stderr.write("opsconsole: aborted\n")
        return 130
    except cx.ClickException as e:
        sys.stderr.write(f"opsconsole: {' '.join(e.format_message().split())}\n")
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except SystemExit as e:
        # `| head` left mid-output: not an error of ours, exit 0. typer catches every EPIPE
        # under its main (a BrokenPipeError never gets here), pacifies both streams, then
        # calls sys.exit(1).
        from typer._click.utils import PacifyFlushWrapper

        if e.code == 1 and isinstance(sys.stdout, PacifyFlushWrapper):
            return 0
        raise
    return rv if isinstance(rv, int) else 0


def main() -> None:
    import sys

    from opsconsole.memory import tune_memory

    tune_memory()  # before any thread starts (opsconsole/memory.py says why)
    _exit(run(sys.argv[1:]))


def _exit(code: int) -> None:
    """Exit without tearing the interpreter down when nothing is left to run: after a
    backlog ingest, freeing every object one by one took 0.3 s of a 4.5 s run (no
    destructor of ours matters then: the database is closed, the output flushed). With
    another non-daemon thread still alive (it would be joined), the normal exit. (The
    tests run the CLI as child processes: every one of them ends this way.)"""
    import atexit
    import contextlib
    import os
    import sys
    import threading

    with contextlib.suppress(BrokenPipeError):  # `| head`: the reader left
        sys.stdout.flush()
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
