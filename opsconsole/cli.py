"""The ``opsconsole`` command line. Placeholder until the commands are wired."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=False, add_completion=False)


def main() -> None:
    app()
