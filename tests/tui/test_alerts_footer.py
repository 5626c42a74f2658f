"""Issue 16.3/16.4: the Alerts panel shows the silences in force with their expiry, and the
storm-control rule, read through the report (core.views)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers.tui_seed import FIXED_NOW
from tests.tui.helpers import loaded, wait_for


async def test_silences_and_the_grouping_rule_show_under_the_alerts(
    app_factory: Any, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO silence (key, until, actor, created_at) VALUES (?, ?, 'alice', ?)",
            ("bounce_rate|203.0.113.12|", FIXED_NOW + 3600, FIXED_NOW),
        )
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("4")

        def footer() -> str:
            return str(app.main.query_one("#alerts-footer").render())

        await wait_for(pilot, lambda: "silenced:" in footer())
        assert "203.0.113.12 (bounce_rate) until" in footer()
        assert "storm: >10 per provider grouped" in footer()
