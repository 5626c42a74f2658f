"""IPs: each IP's totals (what the policy judges), its subusers below it; sent, bounce rate
coloured by severity, trend, sparkline, the worst provider and the reputation.

Columns fit the width (``fit``): all from 140 columns; pool and deferred give way below
that; below 100 the sparkline and sent give way too (the IP detail has both), subuser
narrows and the provider and reputation cells abbreviate, so IP, bounce, trend, worst
provider, reputation and status fit an 80-column screen whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from opsconsole.core.holdoff_views import hold_label
from opsconsole.core.ip_console import (
    RANK,
    RepCell,
    WorstProvider,
    reputation_cells,
    worst_providers,
)
from opsconsole.core.views import Snapshot, window_trend
from opsconsole.styles import ALERT_SEVERITY_STYLE, FALLING, RISING, SEVERITY_STYLE
from opsconsole.tui.cells import STATE_STYLE, count, pct, sparkline, trend
from opsconsole.tui.panels.base import Column, Panel, Spec, sort_letters

_COUNTS = ("sent", "bounced", "deferred", "complaints")
WIDE, NARROW = 140, 100  # widths from which the wide / medium column sets apply
SHORT_PROVIDER = {"microsoft": "msft"}  # narrow cells only


def provider_cell(w: WorstProvider | None, narrow: bool = False) -> str:
    """``microsoft 42%`` (``google 0.4%c`` when complaints make it worst); narrow: ``msft
    42%`` (names cut to 7); blank when none is worse."""
    if w is None:
        return ""
    name = SHORT_PROVIDER.get(w.provider, w.provider[:7]) if narrow else w.provider
    if w.complaint_rate is not None:  # complaints make it worst: their rate, marked
        return f"{name} {w.complaint_rate * 100:.1f}%c"
    return f"{name} {w.bounce_rate * 100:.0f}%"


def reputation_style(cell: RepCell | None) -> str:
    if cell is None or cell.state != "listed":
        return "dim"
    return ALERT_SEVERITY_STYLE.get(cell.severity, "")


def row_key(item: dict[str, Any]) -> str:
    return f"{item['ip']}|{item.get('subuser') or ''}"


class IpsPanel(Panel):
    TITLE = "IPs"
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("ip", "IP", 15),
        Column("subuser", "subuser", 10, letter="u"),
        Column("bounce", "bounce", 7, "right", numeric=True),
        Column("trend", "", 1, letter=""),
        Column("spark", "last window", 12, letter=""),
        Column("worst", "worst at", 13, numeric=True, letter="a"),
        Column("rep", "reputation", 10, numeric=True, letter="r"),
        Column("sent", "sent", 7, "right", numeric=True, letter="s"),
        Column("status", "status", 13),
        Column("pool", "pool", 13),
        Column("complaints", "cmpl", 5, "right", numeric=True),
        Column("deferred", "defer", 6, "right", numeric=True),
    )
    DEFAULT_SORT = ("bounce", True)
    ALL = tuple(c.key for c in COLUMNS)
    MEDIUM = tuple(k for k in ALL if k not in ("pool", "deferred"))
    # 77 columns: an 80-column screen shows every one whole (sent and the sparkline are in
    # the IP detail); no column starts that the screen would cut mid-word
    NARROW_KEYS = ("ip", "subuser", "bounce", "trend", "worst", "rep", "status")
    NARROW_WIDTH = {"subuser": 9, "worst": 12, "rep": 7}
    NARROW_LABEL = {"rep": "rep"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._trend: dict[str, str] = {}
        self._worst: dict[tuple[str, str | None], WorstProvider] = {}
        self._rep: dict[str, RepCell] = {}
        self.tier = "wide"
        self.COLUMNS = self._columns(self.tier)  # type: ignore[misc]  # per instance: the width's set

    @classmethod
    def tier_of(cls, width: int) -> str:
        return "wide" if width >= WIDE else "medium" if width >= NARROW else "narrow"

    def _columns(self, tier: str) -> tuple[Column, ...]:
        by_key = {c.key: c for c in type(self).COLUMNS}
        keys = {"wide": self.ALL, "medium": self.MEDIUM, "narrow": self.NARROW_KEYS}[tier]
        cols = [by_key[k] for k in keys]
        if tier == "narrow":
            cols = [replace(c, width=self.NARROW_WIDTH.get(c.key, c.width),
                            label=self.NARROW_LABEL.get(c.key, c.label)) for c in cols]  # fmt: skip
        return tuple(cols)

    def fit(self, width: int) -> bool:
        """Pick the column set for ``width``; True when it changed (the table is rebuilt
        empty: the caller re-applies the snapshot)."""
        tier = self.tier_of(width)
        if tier == self.tier:
            return False
        self.tier = tier
        self.COLUMNS = self._columns(tier)  # type: ignore[misc]  # per instance: the width's set
        if not self.is_mounted:
            return True
        keys = {c.key for c in self.COLUMNS}
        if self.sort_column not in keys:
            self.sort_column, self.sort_reverse = self.DEFAULT_SORT
        table = self.table
        table.clear(columns=True)
        self._rows, self._shown = {}, {}
        self.letters = sort_letters(self.COLUMNS)
        for c in self.COLUMNS:
            table.add_column(self._label(c), key=c.key, width=c.width)
        return True

    def items(self, snap: Snapshot) -> Iterable[tuple[str, dict[str, Any]]]:
        self._worst = worst_providers(snap.report, self.app.config)  # type: ignore[attr-defined]
        self._rep = reputation_cells(snap.report)
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
        extra = (self._worst.get((item["ip"], item["subuser"] if item["parent"] else None)),
                 self._rep.get(item["ip"]), self.tier)  # fmt: skip
        return (values, tuple(series) if series else (), arrow, extra)

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
        narrow = self.tier == "narrow"
        worst = self._worst.get((ip, sub if item["parent"] else None))
        head_worst = self._worst.get((ip, None))
        rep = self._rep.get(ip) if item["parent"] is None else None
        head_rep = self._rep.get(ip)
        rep_rank = (
            (2, {"info": 0, "warning": 1, "critical": 2}.get(head_rep.severity, 1), head_rep.more)
            if head_rep and head_rep.state == "listed"
            else (1 if head_rep else 0, 0, 0)
        )
        cells: dict[str, Spec] = dict(zip(self.ALL, (
            (ip, "" if item["parent"] is None else "dim", by(ip)),
            (sub or "-", "" if sub else "dim", by(head_rate or 0.0)),
            (pct(rate), sev, by(-1.0 if head_rate is None else head_rate)),
            (arrow, arrow_style, by(arrow)),
            (sparkline(snap.series.get(ip, ()), block) if item["parent"] is None else "", sev or "",
             by(head_rate or 0.0)),
            (provider_cell(worst, narrow), SEVERITY_STYLE.get(worst.severity, "") if worst else "",
             by((RANK.get(head_worst.severity, 0), head_worst.bounce_rate)
                if head_worst else (0, 0.0))),
            (rep.label(narrow) if rep else ("-" if item["parent"] is None else ""),
             reputation_style(rep), by(rep_rank)),
            (count(item["sent"]), "", by(head["sent"])),
            (hold_label(item) or status, STATE_STYLE.get(status, ""), by(status)),
            (item["pool"] or "-", "" if item["pool"] else "dim", by(item["pool"] or "")),
            (count(item["complaints"]), "" if item["complaints"] else "dim",
             by(head["complaints"])),
            (count(item["deferred"]), "" if item["deferred"] else "dim", by(head["deferred"])),
        ), strict=True))  # fmt: skip
        return tuple(cells[c.key] for c in self.COLUMNS)
