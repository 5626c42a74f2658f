"""IPs: per (ip, subuser) sent, bounce rate coloured by severity, trend, sparkline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsconsole.core.views import Snapshot
from opsconsole.styles import SEVERITY_STYLE
from opsconsole.tui.cells import STATE_STYLE, count, pct, sparkline, trend
from opsconsole.tui.panels.base import Column, Panel, Spec

_MISSING: Any = object()


def row_key(item: dict[str, Any]) -> str:
    return f"{item['ip']}|{item['subuser'] or ''}"


class IpsPanel(Panel):
    TITLE = "IPs"
    COLUMNS = (
        Column("ip", "IP", 15),
        Column("subuser", "subuser", 10),
        Column("bounce", "bounce", 7, "right", numeric=True),
        Column("trend", "", 1),
        Column("spark", "last window", 12),
        Column("sent", "sent", 7, "right", numeric=True),
        Column("status", "status", 13),
        Column("pool", "pool", 13),
        Column("complaints", "cmpl", 5, "right", numeric=True),
        Column("deferred", "defer", 6, "right", numeric=True),
    )
    DEFAULT_SORT = ("bounce", True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prev: dict[str, float | None] = {}
        self._trend: dict[str, str] = {}

    def items(self, snap: Snapshot) -> Iterable[tuple[str, dict[str, Any]]]:
        for item in snap.report["ips"]:
            yield row_key(item), item

    def fingerprint(self, key: str, item: dict[str, Any], snap: Snapshot) -> Any:
        # Also records the trend against the previous refresh (called once per row and refresh).
        rate = item["bounce_rate"]
        prev = self._prev.get(key, _MISSING)
        arrow = trend(None if prev is _MISSING else prev, rate)
        if prev is _MISSING or prev is None:
            arrow = " "
        self._prev[key] = rate
        self._trend[key] = arrow
        series = snap.series.get(item["ip"])
        return (tuple(item.values()), tuple(series) if series else (), arrow)

    def specs(self, key: str, item: dict[str, Any], snap: Snapshot) -> tuple[Spec, ...]:
        rate = item["bounce_rate"]
        sev = SEVERITY_STYLE.get(item["severity"], "")
        arrow = self._trend.get(key, " ")
        arrow_style = {"↑": "bold red", "↓": "green"}.get(arrow, "dim")
        block = snap.report["thresholds"]["block"]
        status = item["status"] or ""
        return (
            (item["ip"], "", item["ip"]),
            (item["subuser"] or "-", "" if item["subuser"] else "dim", item["subuser"] or ""),
            (pct(rate), sev, -1.0 if rate is None else rate),
            (arrow, arrow_style, arrow),
            (sparkline(snap.series.get(item["ip"], ()), block), sev or "", rate or 0.0),
            (count(item["sent"]), "", item["sent"]),
            (status, STATE_STYLE.get(status, ""), status),
            (item["pool"] or "-", "" if item["pool"] else "dim", item["pool"] or ""),
            (count(item["complaints"]), "" if item["complaints"] else "dim", item["complaints"]),
            (count(item["deferred"]), "" if item["deferred"] else "dim", item["deferred"]),
        )
