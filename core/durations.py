"""Durations as operators write them: ``30s``, ``5m``, ``1h``, ``2d``, ``1w`` or plain seconds."""

from __future__ import annotations

import math
import re

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest duration anything accepts (100 years): beyond it a window's start is not a
# date, and ``inf`` would reach JSON as ``Infinity``.
MAX_SECONDS = 100 * 365 * 86400.0
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``; raises ValueError with the reason for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _RE.match(value)
        if not m:
            raise ValueError(f"not a duration: {value!r} (use 30s, 5m, 1h, 2d or seconds)")
        seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    else:
        raise ValueError(f"not a duration: {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite: {value!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative: {value}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"duration too long: {value!r} (at most 100 years)")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest exact unit form: 3600 -> "1h", 90 -> "90s"."""
    s = int(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
