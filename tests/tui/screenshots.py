"""SVG screenshots of the real console on seeded data: ``python -m tests.tui.screenshots DIR``.

Deterministic: the database is filled by :mod:`tests.helpers.tui_seed` and the app's
clock is frozen at that data's "now", so the pictures change only when the UI does.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.tui.app import OpsApp
from tests.helpers.tui_seed import FIXED_NOW, hold_lease, seed

Steps = Callable[[Pilot[Any]], Awaitable[None]]


async def _until(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("screenshot: the app never reached the expected state")
        await pilot.pause(0.05)


async def _loaded(pilot: Pilot[Any]) -> None:
    app: OpsApp = pilot.app  # type: ignore[assignment]
    await _until(pilot, lambda: app.main.applied >= 1)
    await pilot.pause(0.2)


def _press(*keys: str, screen: str | None = None) -> Steps:
    async def steps(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press(*keys)
        if screen is not None:
            await _until(pilot, lambda: type(pilot.app.screen).__name__ == screen)
        await pilot.pause(0.5)

    return steps


async def _ack(pilot: Pilot[Any]) -> None:
    await _press("4", "a", screen="AckDialog")(pilot)
    await pilot.press(*"alice", "tab", *"talking to the ESP")
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False  # a blinking cursor is drawn at random moments
    await pilot.pause(0.2)


async def _filtered(pilot: Pilot[Any]) -> None:
    await _press("slash", *"198.51")(pilot)
    await pilot.press("enter")
    await pilot.pause(0.2)


def _detail_at(key: str, section: str | None = None) -> Steps:
    """The IP detail of row ``key``, scrolled so ``section`` (a widget id) is at the top."""

    async def steps(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        pilot.app.main.panel("ips").table.move_to_key(key)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await _until(pilot, lambda: type(pilot.app.screen).__name__ == "IpDetailScreen")
        screen = pilot.app.screen
        await _until(pilot, lambda: getattr(screen, "loads", 0) >= 1)
        if section is not None:
            screen.query_one(f"#{section}").scroll_visible(top=True, animate=False)
        await pilot.pause(0.5)

    return steps


SHOTS: tuple[tuple[str, tuple[int, int], Steps], ...] = (
    ("main-120x36", (120, 36), _loaded),
    ("main-80x24", (80, 24), _loaded),
    ("warmups-120x36", (120, 36), _press("2")),
    ("pools-120x36", (120, 36), _press("3")),
    ("alerts-120x36", (120, 36), _press("4")),
    ("filter-120x36", (120, 36), _filtered),
    ("ip-detail", (120, 36), _press("enter", screen="IpDetailScreen")),
    ("ip-detail-timeline-120x40", (120, 40), _detail_at("203.0.113.13|")),
    ("ip-detail-providers-120x40", (120, 40), _detail_at("203.0.113.11|", "providers")),
    ("ip-detail-80x24", (80, 24), _detail_at("203.0.113.13|")),
    ("ip-detail-reputation-80x24", (80, 24), _detail_at("203.0.113.13|", "providers")),
    ("ack-dialog", (120, 36), _ack),
    ("confirm-remove", (80, 24), _press("x", screen="ConfirmDialog")),
    ("help", (80, 24), _press("question_mark", screen="HelpScreen")),
    ("frozen-80x24", (80, 24), _press("space")),
    ("overview-160x48", (160, 48), _loaded),
    ("alert-detail-120x36", (120, 36), _press("4", "enter", screen="AlertDetailScreen")),
    ("help-120x36", (120, 36), _press("question_mark", screen="HelpScreen")),
)


async def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"
        engine = await open_database(url)
        await seed(engine, FIXED_NOW)
        await hold_lease(engine, "mx1.example.net:4242:a1b2c3d4", FIXED_NOW)
        settings = Settings(db=url, host="mx-demo", tui={"refresh": 3600})
        try:
            for name, size, steps in SHOTS:
                app = OpsApp(
                    settings,
                    SqlStore(engine),
                    clock=lambda: FIXED_NOW,
                    db_label="~/.local/share/opsconsole/opsconsole.db",
                )
                async with app.run_test(size=size) as pilot:
                    await steps(pilot)
                    path = Path(app.save_screenshot(f"{name}.svg", str(out)))
                written.append(path)
        finally:
            await engine.dispose()
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "screenshots")
    for path in asyncio.run(take(out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
