"""Which minute buckets a window covers. Buckets are per minute, keyed by the minute start."""

from __future__ import annotations


def window_bounds(now: float, window: float) -> tuple[int, int]:
    """The minutes [since, until) of a rolling window ending now, current minute included."""
    until = int(now) // 60 * 60 + 60
    since = until - max(60, int(window) // 60 * 60)
    return since, until


def range_bounds(since: float, until: float) -> tuple[int, int]:
    """Minute buckets whose start lies in [since, until)."""
    lo = -(-int(since) // 60) * 60  # first minute start >= since
    hi = -(-int(until) // 60) * 60
    return lo, hi


def minute_floor(ts: float) -> int:
    return int(ts) // 60 * 60
