"""Helpers every command uses: settings loading, one-line errors, exit codes, async run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer

from opsconsole.errors import ExitCode

T = TypeVar("T")


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """Print ``opsconsole: message`` on stderr and exit with ``code``; never a traceback."""
    sys.stderr.write(f"opsconsole: {message}\n")
    raise typer.Exit(int(code))


def run_async(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run a coroutine, mapping our known failures to exit codes and one-line reasons."""
    from opsconsole.errors import UsageError
    from opsconsole.settings import ConfigError
    from opsconsole.storage.db import DatabaseError

    try:
        return asyncio.run(fn(*args, **kwargs))
    except (UsageError, ConfigError) as e:
        fail(str(e), ExitCode.USAGE)
    except DatabaseError as e:
        fail(str(e), ExitCode.DATABASE)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
