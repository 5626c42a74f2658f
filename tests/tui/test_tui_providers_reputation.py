"""Issues 11 and 14 in the console: the IPs panel's worst provider and reputation columns,
the IP detail's provider table, reputation section and timeline, on the seeded database
(tests/helpers/tui_seed.py: MS_BLOCK, LISTINGS, CHANGES, SNDS_DAYS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable

from opsconsole.styles import ALERT_SEVERITY_STYLE, SEVERITY_STYLE
from opsconsole.tui.app import OpsApp
from opsconsole.tui.chart import AXIS, LISTED, SNDS, TimelineChart
from opsconsole.tui.detail import IpDetailScreen
from opsconsole.tui.panels.ips import IpsPanel
from tests.helpers.tui_seed import FIXED_NOW, MS_BLOCK, SNDS_DAYS
from tests.tui.helpers import loaded, wait_for

BLOCK_IP, BLOCK_SUB, SPAN, PER_MIN, LATE, EARLY = MS_BLOCK


def ms_truth(minutes: int) -> tuple[int, float]:
    """Sent and bounce rate at microsoft over the last ``minutes`` minutes, from the seed's
    constants (the last 30 minutes bounce LATE per minute, the ones before EARLY)."""
    n = min(minutes, SPAN)
    bounced = min(n, 30) * LATE + max(0, n - 30) * EARLY
    return n * PER_MIN, bounced / (n * PER_MIN)


def cell(panel: IpsPanel, key: str, column: str) -> Any:
    return panel.table.get_cell(key, column)


async def test_ips_panel_worst_provider_and_reputation(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        panel = app.main.panel("ips")
        assert isinstance(panel, IpsPanel) and panel.tier == "wide"
        sent, rate = ms_truth(60)  # the console's window: 1h
        assert (sent, rate) == (600, 0.3)
        for key in (f"{BLOCK_IP}|", f"{BLOCK_IP}|{BLOCK_SUB}"):
            c = cell(panel, key, "worst")
            assert c.plain == f"microsoft {rate * 100:.0f}%"
            assert str(c.style) == SEVERITY_STYLE["block"]
        # the other subuser sends nothing to microsoft and is judged on its own
        assert cell(panel, f"{BLOCK_IP}|news", "worst").plain == ""
        # an IP bad everywhere: no provider is worse than the IP itself
        assert cell(panel, "203.0.113.13|", "worst").plain == ""
        # reputation: worst listing (zen SBL, critical) and one more zone; one zone; ok; none
        rep = cell(panel, "203.0.113.13|", "rep")
        assert rep.plain == "ZEN:SBL+1" and str(rep.style) == ALERT_SEVERITY_STYLE["critical"]
        rep = cell(panel, "198.51.100.21|", "rep")
        assert rep.plain == "SPAMCOP" and str(rep.style) == ALERT_SEVERITY_STYLE["warning"]
        assert cell(panel, "203.0.113.10|", "rep").plain == "ok"
        assert str(cell(panel, "203.0.113.10|", "rep").style) == "dim"
        assert cell(panel, "192.0.2.40|", "rep").plain == "-"  # never checked
        # sorting by the worst provider (shift+a) puts the blocked-at-microsoft IP first
        await pilot.press("A")
        assert panel.sort_column == "worst"
        assert panel.table.coordinate_to_cell_key((0, 0)).row_key.value == f"{BLOCK_IP}|"


async def test_80x24_columns_fit_whole_and_resize(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        panel = app.main.panel("ips")
        assert isinstance(panel, IpsPanel) and panel.tier == "narrow"
        table = panel.table
        keys = [str(k.value) for k in table.columns]
        assert keys == ["ip", "subuser", "bounce", "trend", "worst", "rep", "status"]
        used = sum(c.get_render_width(table) for c in table.columns.values())
        assert used <= table.scrollable_content_region.width  # no header cut mid-word
        labels = [str(c.label).rstrip("▲▼") for c in table.columns.values()]
        assert labels == ["IP", "subuser", "bounce", "", "worst at", "rep", "status"]
        assert cell(panel, f"{BLOCK_IP}|", "worst").plain == "msft 30%"
        assert cell(panel, "203.0.113.13|", "rep").plain == "ZEN+1"
        await pilot.resize_terminal(160, 40)
        await wait_for(pilot, lambda: panel.tier == "wide" and table.row_count > 0)
        assert "pool" in [str(k.value) for k in table.columns]
        assert cell(panel, f"{BLOCK_IP}|", "worst").plain == "microsoft 30%"
        assert cell(panel, "203.0.113.13|", "rep").plain == "ZEN:SBL+1"


async def _detail(pilot: Any, app: OpsApp, key: str) -> IpDetailScreen:
    await loaded(pilot)
    app.main.panel("ips").table.move_to_key(key)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, IpDetailScreen))
    screen = app.screen
    assert isinstance(screen, IpDetailScreen)
    await wait_for(pilot, lambda: screen.loads >= 1)
    return screen


async def test_detail_provider_table_exact(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _detail(pilot, app, f"{BLOCK_IP}|")
        first = screen.providers[0]
        assert first["provider"] == "microsoft"  # the worst provider first
        for name, minutes in (("15m", 15), ("1h", 60), ("24h", 24 * 60)):
            sent, rate = ms_truth(minutes)
            w = first["windows"][name]
            assert (w["sent"], w["bounced"], w["bounce_rate"]) == (sent, round(rate * sent),
                                                                    round(rate, 6))  # fmt: skip
            assert w["severity"] == "block"
        assert first["reasons"][0] == ("IP range on Microsoft's block list (microsoft.s3150)", 5)
        table = screen.query_one("#providers", DataTable)
        row = [getattr(c, "plain", c) for c in table.get_row_at(0)]
        assert row[:7] == ["microsoft", "150", "40.00%", "600", "30.00%", "1200", "25.00%"]
        assert row[7] == "block" and row[8] == "-"
        assert str(screen.query_one("#reasons").render()).startswith(
            "microsoft: 5x IP range on Microsoft's block list"
        )


async def test_detail_reputation_and_timeline(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _detail(pilot, app, "203.0.113.13|")
        rep = screen.query_one("#reputation", DataTable)
        rows = {str(r[0]): [getattr(c, "plain", c) for c in r]
                for r in (rep.get_row_at(i) for i in range(rep.row_count))}  # fmt: skip
        assert rows["zen.spamhaus.org"][1:4] == [
            "listed", "127.0.0.2", "SBL: Spamhaus Block List (spam source)"
        ]  # fmt: skip
        assert rows["b.barracudacentral.org"][1] == "no"
        snds = screen.query_one("#snds", DataTable)
        got = [[getattr(c, "plain", c) for c in snds.get_row_at(i)][:4] for i in range(3)]
        assert got == [[d, f, f"{cr * 100:.2f}%", str(t)] for d, f, cr, t in SNDS_DAYS]
        # the timeline: 96 quarter hours, the last one holding "now"; marks on their slots
        tl = screen.timeline
        assert tl is not None and (tl.step, len(tl.rates)) == (900, 96)
        assert tl.lo == (int(FIXED_NOW) // 900 + 1) * 900 - 96 * 900
        slot = {h: int((FIXED_NOW - h * 3600 - tl.lo) // 900) for h in (20, 6, 3, 2)}
        marks = [(m.slot, m.source, m.state) for m in tl.marks]
        assert marks == [(slot[20], "snds", "YELLOW"), (slot[6], "zen", "listed"),
                         (slot[3], "spamcop", "listed"), (slot[2], "snds", "RED")]  # fmt: skip
        top = screen.query_one(TimelineChart).lines[0].plain
        assert {i - AXIS: ch for i, ch in enumerate(top) if ch != " "} == {
            slot[20]: SNDS, slot[6]: LISTED, slot[3]: LISTED, slot[2]: SNDS
        }  # fmt: skip
