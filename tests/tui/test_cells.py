"""Cell formatting and the table diff, without an app where possible."""

from __future__ import annotations

from opsconsole.core.views import spark_step
from opsconsole.tui.cells import age, pct, progress, sparkline, trend, until
from opsconsole.tui.header import db_label
from opsconsole.tui.main import compile_filter


def test_sparkline_scales_to_block_threshold() -> None:
    series = [(0, 0), (100, 0), (100, 15), (100, 30), (100, 7)]
    assert sparkline(series, 0.15) == " ▁██▄"


def test_trend_arrows() -> None:
    assert trend(None, 0.1) == " "
    assert trend(0.1, None) == " "
    assert trend(0.1, 0.2) == "↑"
    assert trend(0.2, 0.1) == "↓"
    assert trend(0.1, 0.1) == "→"


def test_progress_bar() -> None:
    assert progress(0, 500) == "░" * 10
    assert progress(250, 500) == "█" * 5 + "░" * 5
    assert progress(900, 500) == "█" * 10
    assert progress(5, 0) == "░" * 10


def test_times_and_rates() -> None:
    assert pct(None) == "-"
    assert pct(0.12345) == "12.35%"
    assert age(42) == "42s"
    assert age(3 * 3600 + 300) == "3h05m"
    assert until(-1) == "due"
    assert until(600) == "in 10m"


def test_filter_is_regex_or_literal() -> None:
    p = compile_filter(r"^203\.0")
    assert p is not None and p.search("203.0.113.1 x")
    literal = compile_filter("[unclosed")
    assert literal is not None and literal.search("a [unclosed b")
    assert compile_filter("") is None


def test_db_label_hides_credentials(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", "/home/op")
    assert db_label("sqlite+aiosqlite:////home/op/.local/share/opsconsole/opsconsole.db") == (
        "~/.local/share/opsconsole/opsconsole.db"
    )
    label = db_label("postgresql+asyncpg://ops:secret@db1:5432/ops")
    assert "secret" not in label and "db1" in label


def test_spark_step_covers_window() -> None:
    assert spark_step(3600) == 300
    assert spark_step(60) == 60
