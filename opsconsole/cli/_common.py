"""Helpers every command uses: settings loading, one-line errors, exit codes, async run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from opsconsole.errors import ExitCode

if TYPE_CHECKING:
    from opsconsole.settings import Settings

T = TypeVar("T")


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """Print ``opsconsole: message`` on stderr and exit with ``code``; never a traceback."""
    from opsconsole.core.redact import scrub

    line = " ".join(scrub(message).splitlines()) or "failed"
    sys.stderr.write(f"opsconsole: {line}\n")
    raise typer.Exit(int(code))


def run_async(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
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
    except (typer.Exit, typer.Abort, BrokenPipeError):
        raise  # BrokenPipeError (`| head` left mid-output): cli.app.run exits 0, silently
    except Exception as e:
        from sqlalchemy.exc import DBAPIError

        from opsconsole.core.errors import first_line

        if isinstance(e, DBAPIError):
            # SQLAlchemy's message carries the SQL and every bound parameter: show the
            # driver's first line only. Locked or unreachable means exit 3.
            reason = first_line(e)
            unavailable = e.connection_invalidated or _unavailable(reason)
            fail(f"database: {reason}", ExitCode.DATABASE if unavailable else ExitCode.RUNTIME)
        _runtime_failure(e)
    raise AssertionError("unreachable")


def _unavailable(reason: str) -> bool:
    r = reason.lower()
    return any(w in r for w in ("locked", "busy", "unable to open", "connection", "disk i/o"))


def _runtime_failure(e: Exception) -> NoReturn:
    """A runtime failure: one line, exit 1; the traceback on request."""
    import os
    import traceback

    if os.environ.get("OPSCONSOLE_DEBUG"):
        traceback.print_exception(e)
    fail(f"{type(e).__name__}: {e} (OPSCONSOLE_DEBUG=1 shows the traceback)", ExitCode.RUNTIME)


def parse_time(value: str, option: str) -> float:
    """ISO 8601 time or date (UTC when no offset) -> unix seconds; exit 2 when bad."""
    from datetime import UTC, datetime

    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    except (ValueError, OverflowError):
        fail(
            f"{option}: not a duration nor an ISO 8601 time: {value!r}"
            " (e.g. 1h or 2026-03-02T10:00:00Z)"
        )


def parse_since(value: str, option: str, now: float) -> float:
    """``--since``: a relative duration (``1h``: one hour ago, like ``--window 1h``) or an
    ISO 8601 time or date (UTC when no offset) -> unix seconds; exit 2 when neither."""
    from opsconsole.core.durations import parse_duration

    try:
        return now - parse_duration(value)
    except ValueError:
        return parse_time(value, option)


def check_ip(value: str, what: str = "IP") -> str:
    """The IP in canonical form; exit 2 when ``value`` is not an IPv4/IPv6 address."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        fail(f"not an IP address: {value!r} ({what})")


def parse_window(value: str, option: str = "--window") -> float:
    from opsconsole.core.durations import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as e:
        fail(f"{option}: {e}")
    if seconds < 60:
        fail(f"{option}: must be at least 1m (buckets are per minute), got {value!r}")
    return seconds


def write_private(path: str, text: str) -> None:
    """Write an export readable by its owner only (0600); exit 2 when not writable."""
    from opsconsole import files

    try:
        files.write_private(path, text)
    except OSError as e:
        fail(f"cannot write {path}: {e.strerror}")


@dataclass
class Globals:
    config: str | None = None
    db: str | None = None


def settings_from(ctx: typer.Context) -> Settings:
    """The settings for this invocation; exit 2 with a one-line reason when the config is bad."""
    from opsconsole.settings import ConfigError, load_settings

    g: Globals = ctx.find_root().obj or Globals()
    try:
        return load_settings(g.config, db=g.db)
    except ConfigError as e:
        fail(str(e), ExitCode.USAGE)
