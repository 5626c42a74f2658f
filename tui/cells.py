"""How values read in a cell: percentages, ages, sparklines, trend arrows, progress bars.

Pure functions of their arguments (no Textual, no clock): the panels call them with the
snapshot's values, tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from opsconsole.core.sanitize import shown

# re-exported for the panels: the palette itself lives in opsconsole.styles
from opsconsole.styles import ALERT_SEVERITY_STYLE as ALERT_SEVERITY_STYLE
from opsconsole.styles import STATE_STYLE as STATE_STYLE

SPARK = "▁▂▃▄▅▆▇█"
UP, DOWN, FLAT = "↑", "↓", "→"


class Cell(Text):
    """A styled cell that carries the raw value it sorts by."""

    sort_value: Any

    def __init__(self, text: str, style: str = "", sort_value: Any = None, justify: Any = None):
        # Text from logs never reaches the terminal raw (escape sequences, bidi, NULs).
        super().__init__(
            shown(text), style=style, justify=justify, no_wrap=True, overflow="ellipsis"
        )
        self.sort_value = text if sort_value is None else sort_value


def pct(rate: float | None, digits: int = 2) -> str:
    return "-" if rate is None else f"{rate * 100:.{digits}f}%"


def count(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 10_000_000:
        return f"{n / 1_000_000:.0f}M"
    if n >= 100_000:
        return f"{n / 1000:.0f}k"
    return str(n)


def trend(previous: float | None, current: float | None, eps: float = 1e-9) -> str:
    """Arrow of ``current`` against the previous refresh's value; blank when unknown."""
    if previous is None or current is None:
        return " "
    if current > previous + eps:
        return UP
    if current < previous - eps:
        return DOWN
    return FLAT


def sparkline(series: Sequence[tuple[int, int]], full_scale: float) -> str:
    """One block per slot, height = bounce rate against ``full_scale`` (the block threshold);
    a slot with nothing sent is a space."""
    out = []
    top = len(SPARK) - 1
    for sent, bounced in series:
        if sent <= 0:
            out.append(" ")
            continue
        level = round(bounced / sent / full_scale * top) if full_scale > 0 else top
        out.append(SPARK[max(0, min(top, level))])
    return "".join(out)


def progress(done: int, total: int, width: int = 10) -> str:
    """A text bar of done/total: ``██████░░░░``; full past the quota."""
    if total <= 0:
        return "░" * width
    filled = min(width, round(done / total * width))
    return "█" * filled + "░" * (width - filled)


def parse_iso(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def age(seconds: float | None) -> str:
    """``12s``, ``4m``, ``3h``, ``2d``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def until(seconds: float | None) -> str:
    """Time left: ``in 3h05m``; ``-`` when unknown, ``due`` when past."""
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "due"
    return f"in {age(seconds)}"


def clock_time(ts: float | None) -> str:
    """``03-02 10:04`` (UTC) for an absolute time in a narrow column."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M")
