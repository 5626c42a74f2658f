"""The IP detail's timeline: the pure data step (slots, marks) and the chart's rendering."""

from __future__ import annotations

from opsconsole.core.ip_console import Mark, Timeline, timeline_of
from opsconsole.core.stats import Thresholds
from opsconsole.tui.chart import AXIS, CLEARED, LISTED, SNDS, nice_top, render_chart

LO = 1_772_400_000  # a minute start
STEP = 900


def test_timeline_of_rates_severities_and_mark_slots() -> None:
    series = [(0, 0), (100, 5), (100, 20), (10, 5)]
    changes = [
        {"at": LO + 10, "source": "zen.spamhaus.org", "state": "listed"},
        {"at": LO + 2 * STEP + 899, "source": "snds", "state": "RED"},
        {"at": LO + 3 * STEP, "source": "bl.spamcop.net", "state": "clear"},
        {"at": LO - 1, "source": "bl.spamcop.net", "state": "listed"},  # before the window
        {"at": LO + 4 * STEP, "source": "bl.spamcop.net", "state": "listed"},  # after it
    ]
    tl = timeline_of(series, changes, LO, STEP, Thresholds())
    assert tl.rates == [None, 0.05, 0.2, 0.5]
    assert tl.severities == ["insufficient", "warning", "block", "block"]
    assert tl.sent == [0, 100, 100, 10]
    assert [(m.slot, m.source, m.state) for m in tl.marks] == [
        (0, "zen", "listed"), (2, "snds", "RED"), (3, "spamcop", "clear"),
    ]  # fmt: skip


def _tl(rates: list[float | None], marks: list[Mark]) -> Timeline:
    sev = ["ok" if r is not None else "insufficient" for r in rates]
    sent = [100 if r is not None else 0 for r in rates]
    return Timeline(LO, STEP, rates, sev, sent, marks, 0.05, 0.10, 0.15)


def test_marks_sit_on_their_slots_columns() -> None:
    n = 96
    marks = [Mark(0, LO, "zen", "listed"), Mark(40, LO + 40 * STEP, "snds", "YELLOW"),
             Mark(95, LO + 95 * STEP, "zen", "clear")]  # fmt: skip
    lines = render_chart(_tl([0.01] * n, marks))
    row = lines[0].plain
    assert [i - AXIS for i, ch in enumerate(row) if ch != " "] == [0, 40, 95]
    assert row[AXIS] == LISTED and row[AXIS + 40] == SNDS and row[AXIS + 95] == CLEARED


def test_listing_wins_a_shared_slot() -> None:
    marks = [Mark(3, LO, "snds", "RED"), Mark(3, LO, "zen", "listed"), Mark(3, LO, "x", "clear")]
    assert render_chart(_tl([0.01] * 10, marks))[0].plain[AXIS + 3] == LISTED


def test_bar_heights_axis_and_threshold_lines() -> None:
    # top 20% (critical 10% x 1.2 = 12%, on a 1-2-5 step): 8 rows of 2.5% each; a threshold
    # line is drawn in the row that starts at it, where no bar covers it
    tl = _tl([0.20, 0.10, None, 0.0], [])
    lines = [t.plain.rstrip() for t in render_chart(tl, height=8)]
    assert lines[1:9] == [
        " 20.0% ┤█",
        " 15.0% ┤█╌╌╌",
        "       │█",
        " 10.0% ┤█╌╌╌",
        "       │██",
        "  5.0% ┤██╌╌",
        "       │██",
        "  0.0% ┤██ ▁",  # sent with nothing bounced: a floor; nothing sent: a gap
    ]
    assert lines[9] == "       └────"


def test_nice_top() -> None:
    assert nice_top(0.0, 0.12) == 0.2
    assert nice_top(0.42, 0.12) == 0.5
    assert nice_top(0.9, 0.12) == 1.0
    assert nice_top(0.03, 0.024) == 0.05


def test_time_labels_sit_under_whole_hours() -> None:
    lo = 1_772_445_600 - 86400 + 900  # 10:15 UTC, 96 quarter hours to 10:15 the next day
    tl = _tl([0.01] * 96, [])
    tl.lo = lo
    labels = render_chart(tl)[-2].plain
    # 12:00 is slot boundary 7 (10:15 + 7 x 15m), then every 16 slots
    for k, hhmm in enumerate(("12:00", "16:00", "20:00", "00:00", "04:00", "08:00")):
        at = AXIS + 7 + 16 * k - 2
        assert labels[at : at + 5] == hhmm
