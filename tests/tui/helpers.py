"""Helpers for the TUI tests: a frozen clock, waiting on the app, reading the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from textual.pilot import Pilot

from opsconsole.settings import Settings
from opsconsole.tui.app import OpsApp
from tests.helpers.tui_seed import FIXED_NOW


def fixed_clock() -> float:
    return FIXED_NOW


def make_settings(db_url: str, **tui: Any) -> Settings:
    return Settings(db=db_url, host="test-host", tui={"refresh": 0.2, **tui})


async def wait_for(pilot: Pilot[Any], cond: Callable[[], Any], timeout: float = 5.0) -> None:
    """Let the app run until ``cond()`` holds; fail with the condition's source if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {cond}")
        await pilot.pause(0.05)


async def loaded(pilot: Pilot[Any]) -> None:
    app: OpsApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: app.fetches >= 1 and app.main.applied >= 1)
    await pilot.pause()


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def row(engine: AsyncEngine, sql: str, **params: Any) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        r = (await conn.execute(text(sql), params)).mappings().first()
    return dict(r) if r else None
