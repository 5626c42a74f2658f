"""Issue 17.9 and 17.10: the overview at 120+ columns, the alert detail (transitions from
alert_event, notifications and their outcome from the outbox), live detail screens; with
SVG snapshots of the overview at 160x48, the alert detail and the help at 120x36."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine
from textual.pilot import Pilot
from textual.widgets import Static

from opsconsole.storage.db import open_database
from opsconsole.tui.alert_detail import AlertDetailScreen
from opsconsole.tui.app import OpsApp
from opsconsole.tui.detail import IpDetailScreen
from opsconsole.tui.help import HelpScreen
from opsconsole.tui.overview import Overview, overview_parts
from tests.helpers.tui_seed import FIXED_NOW
from tests.tui.helpers import loaded, wait_for
from tests.tui.test_snapshots import seeded_app

HISTORY = [
    "INSERT INTO alert_event (alert_id, at, transition, actor, severity, value, note) VALUES"
    f" ('a-1001', {FIXED_NOW - 900}, 'opened', 'engine', 'warning', 0.07, ''),"
    f" ('a-1001', {FIXED_NOW - 600}, 'escalated', 'engine', 'critical', 0.17, ''),"
    f" ('a-1001', {FIXED_NOW - 300}, 'silenced', 'alice', 'critical', NULL, 'maintenance')",
    "INSERT INTO outbox (created_at, notifier, alert_id, payload, attempts, next_attempt_at,"
    " last_error, sent_at) VALUES"
    f" ({FIXED_NOW - 900}, 'slack', 'a-1001', '{{}}', 1, 0, NULL, {FIXED_NOW - 899}),"
    f" ({FIXED_NOW - 600}, 'pager', 'a-1001', '{{}}', 3, {FIXED_NOW + 60},"
    " 'HTTP 503 from 127.0.0.1', NULL)",
]


async def add_history(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for sql in HISTORY:
            await conn.exec_driver_sql(sql)


async def open_alert(pilot: Pilot[Any], alert_id: str = "a-1001") -> AlertDetailScreen:
    app: OpsApp = pilot.app  # type: ignore[assignment]
    await loaded(pilot)
    await pilot.press("4")
    table = app.main.panel("alerts").table
    await wait_for(pilot, lambda: table.row_count == 5)
    table.move_cursor(row=table.get_row_index(alert_id))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
    screen: AlertDetailScreen = app.screen  # type: ignore[assignment]
    await wait_for(pilot, lambda: screen.loads >= 1)
    await pilot.pause(0.1)
    return screen


async def test_enter_on_an_alert_opens_the_alert(
    app_factory: Callable[..., OpsApp], engine: AsyncEngine
) -> None:
    await add_history(engine)
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_alert(pilot)
        tr = screen.query_one("#transitions")
        assert [str(tr.get_row_at(i)[1]) for i in range(tr.row_count)] == [
            "opened", "escalated", "silenced"]  # fmt: skip
        assert str(tr.get_row_at(1)[4]) == "17.00%"
        assert str(tr.get_row_at(2)[5]) == "maintenance"
        nt = screen.query_one("#notifications")
        rows = [[str(c) for c in nt.get_row_at(i)] for i in range(nt.row_count)]
        assert [r[1:4] for r in rows] == [["slack", "sent", "1"], ["pager", "retrying", "3"]]
        assert rows[1][5] == "HTTP 503 from 127.0.0.1"
        summary = str(screen.query_one("#summary", Static).render())
        assert "value 17.00%" in summary and "UTC" in summary
        # live: a new transition shows without a key
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO alert_event (alert_id, at, transition, actor, severity, value, note)"
                f" VALUES ('a-1001', {FIXED_NOW}, 'acknowledged', 'bob', 'critical', NULL, '')"
            )
        await wait_for(pilot, lambda: tr.row_count == 4)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main)


async def test_ip_detail_is_live_and_shows_whole_diagnostics(
    app_factory: Callable[..., OpsApp],
) -> None:
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IpDetailScreen))
        screen: IpDetailScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: screen.loads >= 2)  # reloads by itself
        full = str(screen.query_one("#diag-full", Static).render())
        assert full == screen.diags[0] and len(full) > 40


async def test_overview_only_when_wide(app_factory: Callable[..., OpsApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        assert not app.main.query_one(Overview).display
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        ov = app.main.query_one(Overview)
        assert ov.display
        parts = {k: plain(v) for k, v in overview_parts(app.snapshot).items()}  # type: ignore[arg-type]
        assert parts["ips"].splitlines()[:2] == [
            "Worst IPs · 5",
            "203.0.113.13      16.84%   removed",
        ]
        assert parts["pools"].splitlines()[1] == "bulk    203.0.113.13           removed"
        assert parts["alerts"].splitlines()[0] == "Open alerts · 4"
        assert parts["warmups"].splitlines()[0] == "Warmups today · 3"


def plain(renderable: Any) -> str:
    console = Console(width=40, record=True, file=io.StringIO())
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def _with_history(tmp_path: Path) -> OpsApp:
    app = seeded_app(tmp_path)

    async def prepare() -> None:
        engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'snap.db'}")
        await add_history(engine)
        await engine.dispose()

    asyncio.run(prepare())
    return app


def test_overview_160x48(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(seeded_app(tmp_path), terminal_size=(160, 48), run_before=loaded)


def test_alert_detail_120x36(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_with_history(tmp_path), terminal_size=(120, 36), run_before=open_alert)


def test_help_120x36(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await pilot.pause(0.2)

    assert snap_compare(seeded_app(tmp_path), terminal_size=(120, 36), run_before=run_before)
