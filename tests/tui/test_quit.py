"""Quitting while refreshes relabel the tabs: the console starts no animation (unless
TEXTUAL_ANIMATIONS asks for them), so nothing is left for the animator to finish after the
app stopped (Textual's pilot waited forever on one, now and then, in CI)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.helpers import loaded, wait_for


async def test_tabs_switch_and_relabel_without_animating(app_factory: Any) -> None:
    app = app_factory()
    started: list[tuple[Any, ...]] = []
    animate = app.animator.animate

    def counted(*args: Any, **kw: Any) -> None:
        started.append(args[:2])
        animate(*args, **kw)

    app.animator.animate = counted
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        for key in ("2", "3", "4", "1"):  # each switch moves the tab underline
            await pilot.press(key)
        await wait_for(pilot, lambda: app.fetches >= 3)  # each refresh relabels the counts
        await pilot.pause(0.1)
        assert started == []
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


def test_textual_animations_env_is_the_operators_to_set(
    app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app_factory().animation_level == "none"
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    app = app_factory()
    assert app.animation_level == "full"
