"""Issue 17.13: an empty console says what to do next; 17.12: a second demo never wipes the
database of one still open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from textual.widgets import Static

from opsconsole.demo import clear_stale_demos
from opsconsole.settings import Settings
from opsconsole.storage.store import open_store
from opsconsole.tui.app import OpsApp
from opsconsole.tui.welcome import Welcome
from tests.tui.helpers import fixed_clock, loaded


async def test_empty_console_says_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    settings = Settings(db=url, host="h", tui={"refresh": 0.2})
    store = await open_store(url)
    app = OpsApp(settings, store, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        box = app.main.query_one(Welcome)
        assert box.display
        text = str(box.render())
        assert "Nothing here yet" in text
        assert "opsconsole --demo" in text
        assert "config.toml" in text and "opsconsole config check" in text
        assert "opsconsole ingest FILE --format" in text
    await store.close()


async def test_seeded_console_has_no_welcome(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        assert not app.main.query_one(Welcome).display
        assert isinstance(app.main.query_one("#rowinfo"), Static)


def test_stale_demo_folders_go_live_ones_stay(tmp_path: Path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        for pid in (live.pid, dead.pid, os.getpid()):
            (tmp_path / str(pid)).mkdir()
            (tmp_path / str(pid) / "demo.db").write_text("x")
        (tmp_path / "demo.db").write_text("old layout")
        clear_stale_demos(tmp_path, keep=os.getpid())
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [str(live.pid), str(os.getpid())]
        )
        assert (tmp_path / str(live.pid) / "demo.db").read_text() == "x"
    finally:
        live.kill()
        live.wait()
