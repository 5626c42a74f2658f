"""The console runs the engine in-process: leader on a free database, follower when another
engine holds the lease (the TUI next to a systemd daemon)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.settings import Settings
from opsconsole.storage.store import SqlStore
from opsconsole.tui.dialogs import ConfirmDialog
from opsconsole.wiring import make_runtime
from tests.helpers.tui_seed import FIXED_NOW, hold_lease
from tests.tui.helpers import fixed_clock, loaded, row, wait_for


def _status(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.main.query_one("#status").render())


async def test_follower_badge(app_factory, engine: AsyncEngine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    await hold_lease(engine, "mx1.example.net:4242:other", FIXED_NOW)
    runtime = make_runtime(settings, SqlStore(engine), clock=fixed_clock)
    app = app_factory(runtime=runtime)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: runtime.role == "follower")
        await wait_for(pilot, lambda: "follower" in _status(app))
        assert "212.5 ev/s" in _status(app)  # the leader's rate, from its lease row
        assert "check 42s ago" in _status(app)
        await pilot.press("q")
    lease = await row(engine, "SELECT holder FROM lease")
    assert lease == {"holder": "mx1.example.net:4242:other"}


async def test_leader_applies_commands_and_releases_lease(  # type: ignore[no-untyped-def]
    app_factory, engine: AsyncEngine, settings: Settings
) -> None:
    runtime = make_runtime(settings, SqlStore(engine), clock=fixed_clock)
    app = app_factory(runtime=runtime)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: runtime.role == "leader")
        await wait_for(pilot, lambda: "leader" in _status(app))
        await pilot.press("2")
        await wait_for(pilot, lambda: app.main.panel().selected_ip() == "192.0.2.30")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        # applied by the in-process engine on its next tick
        await wait_for(pilot, lambda: app.main.panel().selected()["state"] == "paused", 10)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    assert runtime.role == "stopped"
    lease = await row(engine, "SELECT holder, expires_at FROM lease")
    assert lease is not None and lease["holder"] == runtime.holder
    assert lease["expires_at"] <= FIXED_NOW  # released at a clean exit
