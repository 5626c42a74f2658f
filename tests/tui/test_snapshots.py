"""SVG snapshots of the key screens on seeded data with a frozen clock (pytest-textual-snapshot).

Refresh is set to an hour so exactly one snapshot is fetched: what is drawn does not depend
on timing. Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and review
the SVGs.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import open_store
from opsconsole.tui.app import OpsApp
from opsconsole.tui.detail import IpDetailScreen
from opsconsole.tui.dialogs import AckDialog
from opsconsole.tui.help import HelpScreen
from tests.helpers.tui_seed import FIXED_NOW, seed
from tests.tui.helpers import fixed_clock, loaded, wait_for

DB_LABEL = "~/.local/share/opsconsole/opsconsole.db"


def seeded_app(tmp_path: Path, **kw: Any) -> OpsApp:
    url = f"sqlite+aiosqlite:///{tmp_path / 'snap.db'}"

    async def prepare() -> None:
        engine = await open_database(url)
        await seed(engine, FIXED_NOW)
        await engine.dispose()

    asyncio.run(prepare())
    settings = Settings(db=url, host="mx-demo", tui={"refresh": 3600})
    return OpsApp(
        settings, open_store=partial(open_store, settings.db), clock=fixed_clock,
        db_label=DB_LABEL, **kw,
    )  # fmt: skip


async def _screen(pilot: Pilot[Any], key: str, kind: type) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind))
    await pilot.pause(0.2)


def test_main_120x36(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(seeded_app(tmp_path), terminal_size=(120, 36), run_before=loaded)


def test_main_80x24(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(seeded_app(tmp_path), terminal_size=(80, 24), run_before=loaded)


def test_warmups_80x24_read_only(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("2")
        await pilot.pause(0.2)

    app = seeded_app(tmp_path, read_only=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_ip_detail(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await _screen(pilot, "enter", IpDetailScreen)
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.query_one("#audit").row_count > 0)

    assert snap_compare(seeded_app(tmp_path), terminal_size=(120, 36), run_before=run_before)


def test_ip_detail_80x24(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every column of the windows table in 80 columns (severity was cut to "criti")."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await _screen(pilot, "enter", IpDetailScreen)
        screen = pilot.app.screen
        windows = screen.query_one("#windows")
        await wait_for(pilot, lambda: windows.row_count > 0)
        assert windows.virtual_size.width <= windows.size.width  # no horizontal scroll

    assert snap_compare(seeded_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_ack_dialog(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("4")
        await pilot.pause(0.2)
        await _screen(pilot, "a", AckDialog)
        await pilot.press(*"alice")  # replaces the preselected $USER
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor is drawn at random moments
        await pilot.pause(0.1)

    assert snap_compare(seeded_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await _screen(pilot, "question_mark", HelpScreen)

    assert snap_compare(seeded_app(tmp_path), terminal_size=(80, 24), run_before=run_before)
