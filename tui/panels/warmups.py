"""Warmups: stage n/N, day, today's quota use as a bar, state and reason, next change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsconsole.core.views import Snapshot
from opsconsole.styles import CYAN, RED
from opsconsole.tui.cells import STATE_STYLE, parse_iso, progress, until
from opsconsole.tui.panels.base import Column, Panel, Spec


class WarmupsPanel(Panel):
    TITLE = "Warmups"
    COLUMNS = (
        Column("ip", "IP", 15),
        Column("stage", "stage", 5, "right", numeric=True),
        Column("day", "day", 5, "right", numeric=True),
        Column("quota", "today / quota", 22, numeric=True),
        Column("state", "state", 9),
        Column("next", "next change", 11),
        Column("pool", "pool", 10),
        Column("reason", "reason", 40),
    )
    DEFAULT_SORT = ("ip", False)

    def items(self, snap: Snapshot) -> Iterable[tuple[str, dict[str, Any]]]:
        for item in snap.report["warmups"]:
            yield item["ip"], item

    def fingerprint(self, key: str, item: dict[str, Any], snap: Snapshot) -> Any:
        nxt = parse_iso(item["next_change_at"])
        # "next change" counts down in minutes
        left = None if nxt is None else int(nxt - snap.now) // 60
        return (tuple(item.values()), left)

    def specs(self, key: str, item: dict[str, Any], snap: Snapshot) -> tuple[Spec, ...]:
        sent, quota = item["sent_today"], item["daily_quota"]
        over = quota > 0 and sent > quota
        bar = f"{progress(sent, quota)} {sent}/{quota}"
        nxt = parse_iso(item["next_change_at"])
        state = item["state"]
        return (
            (item["ip"], "", item["ip"]),
            (f"{item['stage']}/{item['stages_total']}", "", item["stage"]),
            (f"{item['day']}/{item.get('stage_days') or '?'}", "", item["day"]),
            (bar, f"bold {RED}" if over else CYAN, sent / quota if quota else 0.0),
            (state, STATE_STYLE.get(state, ""), state),
            (until(None if nxt is None else nxt - snap.now), "", nxt or 0.0),
            (item.get("pool") or "-", "", item.get("pool") or ""),
            (item["state_reason"] or "", "dim", item["state_reason"] or ""),
        )
