"""IPs: each IP's totals (what the policy judges), its subusers below it; sent, bounce rate
coloured by severity, trend, sparkline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsconsole.core.holdoff_views import hold_label
from opsconsole.core.views import Snapshot, window_trend
from opsconsole.styles import FALLING, RISING, SEVERITY_STYLE
from opsconsole.tui.cells import STATE_STYLE, count, pct, sparkline, trend
from opsconsole.tui.panels.base import Column, Panel, Spec

_COUNTS = ("sent", "bounced", "deferred", "complaints")


def row_key(item: dict[str, Any]) -> str:
    return f"{item['ip']}|{item.get('subuser') or ''}"


class IpsPanel(Panel):
    TITLE = "IPs"
    COLUMNS = (
        Column("ip", "IP", 15),
        Column("subuser", "subuser", 10, letter="u"),
        Column("bounce", "bounce", 7, "right", numeric=True),
        Column("trend", "", 1, letter=""),
        Column("spark", "last window", 12, letter=""),
        Column("sent", "sent", 7, "right", numeric=True, letter="s"),
        Column("status", "status", 13),
        Column("pool", "pool", 13),
        Column("complaints", "cmpl", 5, "right", numeric=True),
        Column("deferred", "defer", 6, "right", numeric=True),
    )
    DEFAULT_SORT = ("bounce", True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._trend: dict[str, str] = {}

    def items(self, snap: Snapshot) -> Iterable[tuple[str, dict[str, Any]]]:
        for row in snap.report["ips"]:
            subs = row["subusers"]
            if len(subs) == 1 and all(subs[0][k] == row[k] for k in _COUNTS):
                # The IP's one subuser holds all of its traffic: one row, naming it.
                ip_item = row | {"subuser": subs[0]["subuser"], "parent": None}
                yield row_key(ip_item | {"subuser": None}), ip_item
                continue
            ip_item = row | {"subuser": None, "parent": None}
            yield row_key(ip_item), ip_item
            for su in subs:
                item = row | su | {"parent": row}
                yield row_key(item), item

    def fingerprint(self, key: str, item: dict[str, Any], snap: Snapshot) -> Any:
        # Also records the trend: the IP's latest 15m against the 15m before (views layer).
        series = snap.series.get(item["ip"])
        arrow = " "
        if item["subuser"] is None and series:
            arrow = trend(*window_trend(series))
        self._trend[key] = arrow
        values = tuple(v for k, v in item.items() if k not in ("subusers", "parent"))
        return (values, tuple(series) if series else (), arrow)

    def specs(self, key: str, item: dict[str, Any], snap: Snapshot) -> tuple[Spec, ...]:
        rate = item["bounce_rate"]
        sev = SEVERITY_STYLE.get(item["severity"], "")
        arrow = self._trend.get(key, " ")
        arrow_style = {"↑": RISING, "↓": FALLING}.get(arrow, "dim")
        block = snap.report["thresholds"]["block"]
        status = item["status"] or ""
        # A subuser sorts with its IP (the IP's value, then the IP), and after it: the sort
        # is stable and the IP row comes first.
        head = item["parent"] or item
        ip = item["ip"]

        def by(value: Any) -> tuple[Any, str]:
            return (value, ip)

        sub = item["subuser"]
        head_rate = head["bounce_rate"]
        return (
            (ip, "" if item["parent"] is None else "dim", by(ip)),
            (sub or "-", "" if sub else "dim", by(head_rate or 0.0)),
            (pct(rate), sev, by(-1.0 if head_rate is None else head_rate)),
            (arrow, arrow_style, by(arrow)),
            (sparkline(snap.series.get(ip, ()), block) if item["parent"] is None else "", sev or "",
             by(head_rate or 0.0)),
            (count(item["sent"]), "", by(head["sent"])),
            (hold_label(item) or status, STATE_STYLE.get(status, ""), by(status)),
            (item["pool"] or "-", "" if item["pool"] else "dim", by(item["pool"] or "")),
            (count(item["complaints"]), "" if item["complaints"] else "dim",
             by(head["complaints"])),
            (count(item["deferred"]), "" if item["deferred"] else "dim", by(head["deferred"])),
        )  # fmt: skip
