"""``opsconsole config show|check``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

config_app = typer.Typer(
    help="Show or validate the configuration.\n\n\b\nExamples:\n  opsconsole config show\n"
    "  opsconsole --config /etc/opsconsole/config.toml config check",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command(
    "show",
    help=(
        "Print the effective settings as JSON, secrets redacted.\n\n\b\nExample:\n"
        "  opsconsole --config /etc/opsconsole/config.toml config show"
    ),
)
def show(ctx: typer.Context) -> None:
    from opsconsole.cli._common import settings_from
    from opsconsole.settings import redacted

    typer.echo(json.dumps(redacted(settings_from(ctx)), indent=2))


@config_app.command(
    "check",
    help="Validate the config file; names the bad key and line, exit 2 when invalid.\n\n\b\n"
    "Example:\n  opsconsole config check --file ./config.toml",
)
def check(
    ctx: typer.Context,
    file: Annotated[str | None, typer.Option("--file", help="Check this file.")] = None,
) -> None:
    from opsconsole.cli._common import Globals, settings_from
    from opsconsole.settings import resolve_config_path

    g: Globals = ctx.find_root().obj
    if file:
        g.config = file
    settings_from(ctx)
    path = resolve_config_path(g.config)
    typer.echo(f"ok: {path}" if path else "ok: no config file; defaults and environment only")
