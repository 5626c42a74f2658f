"""Issue 17.8: keys that say why, sort by column letter, j/k, trend against windows, the
help box at the screen's width, invalid regexes named."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from opsconsole.core.views import window_trend
from opsconsole.tui.app import OpsApp
from opsconsole.tui.help import HelpScreen
from opsconsole.tui.main import MainScreen
from tests.tui.helpers import loaded, wait_for


async def test_alert_keys_outside_alerts_say_why(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await pilot.pause(0.1)
        await pilot.press("r")
        await pilot.pause(0.1)
        assert isinstance(app.screen, MainScreen)
        said = [n.message for n in app._notifications]
        assert "Alerts are acknowledged on the Alerts panel: press 4 first" in said
        assert "Alerts are resolved on the Alerts panel: press 4 first" in said


async def test_sort_by_letter_reverse_and_header_click(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 36)) as pilot:
        await loaded(pilot)
        panel = app.main.panel("ips")
        assert panel.sort_column == "bounce"
        await pilot.press("S")  # shift+s: sent, high first
        assert (panel.sort_column, panel.sort_reverse) == ("sent", True)
        sents = [r["sent"] for r in app.snapshot.report["ips"]]  # type: ignore[union-attr]
        first = panel.table.coordinate_to_cell_key((0, 0)).row_key.value
        assert first is not None and first.endswith("|")
        top = next(r for r in app.snapshot.report["ips"] if f"{r['ip']}|" == first)  # type: ignore[union-attr]
        assert top["sent"] == max(sents)
        await pilot.press("S")  # again: reversed
        assert panel.sort_reverse is False
        await pilot.press("minus")
        assert panel.sort_reverse is True
        await pilot.press("I")
        assert (panel.sort_column, panel.sort_reverse) == ("ip", False)
        assert "rows  ·  sort IP ▲" in str(app.main.query_one("#rowinfo", Static).render())
        # the header shows the letter (underlined) and the arrow; clicking it sorts too
        assert str(panel.table.columns["ip"].label) == "IP▲"  # type: ignore[index]
        await pilot.click(panel.table, offset=(20, 0))  # subuser header
        assert panel.sort_column == "subuser"
        await pilot.press("W")  # a letter of the Pools panel
        assert any("no column W on IPs" in n.message for n in app._notifications)


async def test_j_k_move(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        table = app.main.panel().table
        assert table.cursor_row == 0
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1


def test_trend_compares_windows() -> None:
    # 12 slots: 15m before (3 slots) at 10%, latest 15m at 5%
    series = [(0, 0)] * 6 + [(100, 10)] * 3 + [(100, 5)] * 3
    assert window_trend(series) == (0.1, 0.05)
    assert window_trend([(0, 0)] * 12) == (None, None)
    assert window_trend([(1, 1)]) == (None, None)


async def test_invalid_regex_says_so(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"[unclosed")
        await wait_for(pilot, lambda: app.main.panel().table.row_count == 0)
        info = str(app.main.query_one("#rowinfo", Static).render())
        assert "not a regex (unterminated character set): matched as plain text" in info


async def test_help_fits_the_screen_and_has_a_legend(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.1)
        box = app.screen.query_one("Vertical")
        assert box.size.width > 80 + 2  # 90% of 120, not a fixed 80
        text = app.screen.text()
        for sev in ("insufficient", "ok", "warning", "critical", "block"):
            assert f"■ {sev}" in text
        assert "Sort by the column whose letter is underlined" in text
