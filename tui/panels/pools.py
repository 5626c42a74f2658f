"""Pools: one row per member with its current/base weight and state, and the pool's
active IPs and daily capacity."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsconsole.core.views import Snapshot
from opsconsole.tui.cells import STATE_STYLE, count
from opsconsole.tui.panels.base import Column, Panel, Spec


class PoolsPanel(Panel):
    TITLE = "Pools"
    COLUMNS = (
        Column("pool", "pool", 14),
        Column("ip", "IP", 15),
        Column("weight", "weight", 11, "right", numeric=True),
        Column("state", "state", 13),
        Column("active", "active", 7, "right", numeric=True),
        Column("capacity", "capacity/day", 12, "right", numeric=True),
    )
    DEFAULT_SORT = ("pool", False)

    def items(self, snap: Snapshot) -> Iterable[tuple[str, dict[str, Any]]]:
        for p in snap.report["pools"]:
            n = len(p["members"])
            for m in p["members"]:
                yield f"{p['name']}|{m['ip']}", {
                    "pool": p["name"], **m, "active_ips": p["active_ips"], "members": n,
                    "daily_capacity": p["daily_capacity"],
                }  # fmt: skip

    def specs(self, key: str, item: dict[str, Any], snap: Snapshot) -> tuple[Spec, ...]:
        state = item["state"]
        w, base = item["weight"], item["base_weight"]
        return (
            (item["pool"], "bold", (item["pool"], item["ip"])),
            (item["ip"], "", item["ip"]),
            (f"{w:g}/{base:g}", "" if w == base else "yellow", w),
            (state, STATE_STYLE.get(state, ""), state),
            (f"{item['active_ips']}/{item['members']}", "", item["active_ips"]),
            (count(item["daily_capacity"]), "", item["daily_capacity"]),
        )
