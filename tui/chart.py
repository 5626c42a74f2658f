"""The IP detail's timeline: bounce rate per slot as a block chart, y axis in percent, the
warning/critical/block lines, and reputation changes marked on the slot they happened in.

``render_chart`` is a pure function (rich Text, no Textual) so tests read its lines;
``TimelineChart`` is the thin widget around it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from opsconsole.core.ip_console import Mark, Timeline
from opsconsole.styles import GREEN, GREY, RED, SEVERITY_STYLE, YELLOW

EIGHTHS = " ▁▂▃▄▅▆▇█"
AXIS = 8  # "100.0% ┤" : the y label and the axis
LISTED, CLEARED, SNDS = "▼", "▲", "●"
SNDS_STYLE = {"GREEN": GREEN, "YELLOW": YELLOW, "RED": f"bold {RED}"}
LINE = "╌"


def mark_glyph(m: Mark) -> tuple[str, str]:
    """What a reputation change looks like on the mark row: (character, style)."""
    if m.source == "snds":
        return SNDS, SNDS_STYLE.get(m.state.upper(), GREY)
    if m.state == "listed":
        return LISTED, f"bold {RED}"
    return CLEARED, GREEN


_PRIORITY = {LISTED: 3, SNDS: 2, CLEARED: 1}


def nice_top(peak: float, floor: float) -> float:
    """The y axis top: at least ``floor``, above ``peak``, on a 1-2-5 step."""
    want = max(peak, floor, 0.01)
    exp = math.floor(math.log10(want))
    for m in (1, 2, 2.5, 5, 10):
        top = m * 10**exp
        if top >= want - 1e-12:
            return min(1.0, top)
    return 1.0


def render_chart(tl: Timeline, height: int = 8) -> list[Text]:
    """Lines: the mark row, ``height`` plot rows, the x axis and its time labels, a legend.
    Column ``AXIS + i`` is slot ``i``."""
    n = len(tl.rates)
    peak = max((r for r in tl.rates if r is not None), default=0.0)
    top = nice_top(peak, tl.critical * 1.2)
    lines: list[Text] = []

    marks = Text(" " * (AXIS + n))
    chosen: dict[int, tuple[str, str]] = {}
    for m in tl.marks:
        g = mark_glyph(m)
        if m.slot not in chosen or _PRIORITY[g[0]] > _PRIORITY[chosen[m.slot][0]]:
            chosen[m.slot] = g
    for slot, (ch, style) in chosen.items():
        marks = marks[: AXIS + slot] + Text(ch, style) + marks[AXIS + slot + 1 :]
    lines.append(marks)

    rows = height * 8
    levels = [None if r is None else min(rows, round(r / top * rows)) for r in tl.rates]
    lines_at = {}
    for value, style in ((tl.warning, SEVERITY_STYLE["warning"]),
                         (tl.critical, SEVERITY_STYLE["critical"]),
                         (tl.block, SEVERITY_STYLE["block"])):  # fmt: skip
        if 0 < value <= top:
            lines_at[min(height - 1, int(value / top * height + 1e-9))] = (value, style)
    for b in range(height - 1, -1, -1):  # b = row from the bottom
        if b == height - 1:
            label = f"{top * 100:5.1f}%"
        elif b in lines_at:
            label = f"{lines_at[b][0] * 100:5.1f}%"
        elif b == 0:
            label = f"{0:5.1f}%"
        else:
            label = ""
        row = Text(f"{label:>6} ┤" if label else f"{'':6} │", GREY)
        for i, lv in enumerate(levels):
            fill = 0 if lv is None else max(0, min(8, lv - b * 8))
            if b == 0 and lv is not None and lv == 0 and tl.sent[i] > 0:
                fill = 1  # sent, nothing bounced: a floor, not a gap
            if fill:
                row.append(EIGHTHS[fill], SEVERITY_STYLE.get(tl.severities[i], GREY))
            elif b in lines_at:
                row.append(LINE, lines_at[b][1])
            elif i in chosen:
                row.append("┆", chosen[i][1])
            else:
                row.append(" ")
        lines.append(row)

    lines.append(Text(f"{'':6} └" + "─" * n, GREY))
    lines.append(Text(_time_labels(tl.lo, tl.step, n), GREY))
    legend = Text(f"{'':6}  ")
    for ch, style, what in ((LISTED, f"bold {RED}", "listed"), (CLEARED, GREEN, "delisted"),
                            (SNDS, YELLOW, "SNDS colour"), (LINE, SEVERITY_STYLE["warning"],
                            "warning"), (LINE, SEVERITY_STYLE["critical"], "critical"),
                            (LINE, SEVERITY_STYLE["block"], "block")):  # fmt: skip
        legend.append(ch, style)
        legend.append(f" {what}  ", GREY)
    lines.append(legend)
    return lines


def _time_labels(lo: int, step: int, n: int) -> str:
    """``HH:MM`` (UTC) under the slot boundaries on whole 4 hours (whole hours for a short
    chart), centred on the boundary."""
    out = [" "] * (AXIS + n + 5)
    span = n * step
    every = 4 * 3600 if span >= 12 * 3600 else 3600
    for i in range(n + 1):
        t = lo + i * step
        if t % every:
            continue
        label = datetime.fromtimestamp(t, UTC).strftime("%H:%M")
        at = AXIS + i - 2
        if at >= 0 and at + len(label) <= len(out) and out[max(0, at - 1)] == " ":
            out[at : at + len(label)] = label
    return "".join(out).rstrip()


def mark_lines(marks: Sequence[Mark]) -> list[Text]:
    """The changes the marks stand for, as text under the chart (newest last)."""
    out = []
    for m in marks:
        ch, style = mark_glyph(m)
        at = datetime.fromtimestamp(m.at, UTC).strftime("%m-%d %H:%M")
        t = Text(f"{'':8}")
        t.append(ch, style)
        t.append(f" {at}  {m.source}: {m.state}", GREY)
        out.append(t)
    return out


class TimelineChart(Static):
    """The chart widget: ``show(timeline)``."""

    DEFAULT_CSS = "TimelineChart { height: auto; }"

    def __init__(self, *, id: str | None = None, height: int = 8) -> None:
        super().__init__("", id=id)
        self.chart_height = height
        self.lines: list[Text] = []

    def show(self, tl: Timeline) -> None:
        self.lines = render_chart(tl, self.chart_height) + mark_lines(tl.marks)
        self.update(Text("\n").join(self.lines))
