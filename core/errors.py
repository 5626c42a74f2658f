"""Errors the engine raises for its callers to show."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the operator; the message is the one line printed on stderr."""


def first_line(e: BaseException) -> str:
    """The driver's own first line of a database error: never the SQL or its parameters
    (SQLAlchemy's message carries both, and the parameters can hold a log line's text)."""
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip()
    return text.splitlines()[0] if text else type(e).__name__
