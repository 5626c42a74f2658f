"""Exit codes are an API (spec section 5): scripts branch on them."""

from __future__ import annotations

from enum import IntEnum

from opsconsole.core.errors import UsageError

__all__ = ["ExitCode", "UsageError"]


class ExitCode(IntEnum):
    OK = 0
    RUNTIME = 1
    USAGE = 2
    DATABASE = 3
