"""Polling with a deadline: tests wait for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    cond: Callable[[], T | None],
    what: str,
    timeout: float = 30.0,
    poll: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> T:
    """``cond()``'s first truthy value, polling until ``timeout`` seconds have passed; on
    a timeout the error carries ``explain()`` (what was seen instead), when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{seen}")
        time.sleep(poll)
