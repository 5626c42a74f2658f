"""Durations as operators write them: ``30s``, ``5m``, ``1h``, ``2d``, ``1w`` or plain seconds."""

from __future__ import annotations

import re

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``; raises ValueError with the reason for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative: {value}")
        return float(value)
    m = _RE.match(value)
    if not m:
        raise ValueError(f"not a duration: {value!r} (use 30s, 5m, 1h, 2d or seconds)")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def format_duration(seconds: float) -> str:
    """Shortest exact unit form: 3600 -> "1h", 90 -> "90s"."""
    s = int(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
