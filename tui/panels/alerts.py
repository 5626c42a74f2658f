"""Alerts: severity, when opened, title, IP, state and who acknowledged, newest first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

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

    def compose(self) -> ComposeResult:
        yield from super().compose()
        # What is held back: silences in force and the storm/inhibition rules.
        yield Static("", id="alerts-footer", markup=False)

    def apply(self, snap: Snapshot, pattern: Any) -> Any:
        stats = super().apply(snap, pattern)
        self.query_one("#alerts-footer", Static).update(footer(snap.report))
        return stats

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


def footer(report: dict[str, Any]) -> str:
    """One line: the silences in force (soonest first) and the grouping rule."""
    parts = []
    sil = report.get("silences") or []
    if sil:
        shown = ", ".join(
            f"{s['ip']} ({s['rule']}) until {str(s['until'])[11:16]}Z" for s in sil[:3]
        )
        more = f" +{len(sil) - 3}" if len(sil) > 3 else ""
        parts.append(f"silenced: {shown}{more}")
    rules = report.get("alerting")
    if rules:
        text = f"storm: >{rules['group_threshold']} per {rules['group_by']} grouped"
        if rules["inhibit"]:
            text += f"; inhibit: {', '.join(rules['inhibit'])}"
        parts.append(text)
    return "  ·  ".join(parts)
