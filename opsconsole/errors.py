"""Exit codes are an API (spec section 5): scripts branch on them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RUNTIME = 1
    USAGE = 2
    DATABASE = 3


class UsageError(Exception):
    """Bad input from the operator; the message is the one line printed on stderr."""
