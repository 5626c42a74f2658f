"""A seeded SQLite database and an app on it, with the clock frozen at the data's "now"."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.tui.app import OpsApp
from tests.helpers.tui_seed import FIXED_NOW, seed
from tests.tui.helpers import fixed_clock, make_settings


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = await open_database(db_url)
    await seed(eng, FIXED_NOW)
    yield eng
    await eng.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def app_factory(engine: AsyncEngine, settings: Settings) -> Callable[..., OpsApp]:
    def make(**kw: Any) -> OpsApp:
        kw.setdefault("clock", fixed_clock)
        return OpsApp(kw.pop("settings", settings), SqlStore(engine), **kw)

    return make
