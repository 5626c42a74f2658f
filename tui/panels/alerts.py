"""Alerts: severity, when opened, title, IP, state and who acknowledged, newest first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsconsole.core.views import Snapshot
from opsconsole.tui.cells import ALERT_SEVERITY_STYLE, STATE_STYLE, age, parse_iso
from opsconsole.tui.panels.base import Column, Panel, Spec

SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}


class AlertsPanel(Panel):
    TITLE = "Alerts"
    COLUMNS = (
        Column("severity", "severity", 8, numeric=True),
        Column("opened", "opened", 7, "right", numeric=True),
        Column("state", "state", 12),
        Column("ip", "IP", 15),
        Column("acked", "acked by", 10),
        Column("title", "title", 38),
    )
    DEFAULT_SORT = ("opened", True)

    def items(self, snap: Snapshot) -> Iterable[tuple[str, dict[str, Any]]]:
        for item in snap.report["alerts"]:
            yield item["id"], item

    def fingerprint(self, key: str, item: dict[str, Any], snap: Snapshot) -> Any:
        opened = parse_iso(item["opened_at"])
        return (tuple(item.values()), None if opened is None else int(snap.now - opened) // 60)

    def specs(self, key: str, item: dict[str, Any], snap: Snapshot) -> tuple[Spec, ...]:
        sev, state = item["severity"], item["state"]
        opened = parse_iso(item["opened_at"])
        ago = age(None if opened is None else snap.now - opened)
        if opened is not None and snap.now - opened < 60:
            ago = "<1m"
        style = ALERT_SEVERITY_STYLE.get(sev, "")
        if state == "resolved":
            style = "dim"
        return (
            (sev, style, SEVERITY_ORDER.get(sev, -1)),
            (ago, "", opened or 0.0),
            (state, STATE_STYLE.get(state, ""), state),
            (item["ip"] or "-", "", item["ip"] or ""),
            (item["acknowledged_by"] or "-", "" if item["acknowledged_by"] else "dim",
             item["acknowledged_by"] or ""),
            (item["title"], "dim" if state == "resolved" else "", item["title"]),
        )  # fmt: skip
