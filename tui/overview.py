"""The overview (Dolphie's dashboard): at 120 columns and wider, the four panels' essentials
at once above the tabs: worst IPs, warmups moving today, pools with removed members, open
alerts. Pure rendering of a Snapshot (``overview_parts``) plus a thin widget."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import Static

from opsconsole.core.views import Snapshot
from opsconsole.styles import ALERT_SEVERITY_STYLE, GREY, SEVERITY_STYLE, STATE_STYLE
from opsconsole.tui.cells import count, pct, progress

WIDE = 120  # columns from which the overview is shown
ROWS = 6  # lines per box


def _table(*widths: int | None) -> Table:
    """Fixed widths for short values; the rest share what is left (boxes are ~28 wide at
    120 columns), cut with an ellipsis rather than wrapped."""
    t = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False, expand=True)
    for w in widths:
        t.add_column(no_wrap=True, overflow="ellipsis", min_width=w, max_width=w)
    return t


def _more(shown: int, total: int) -> Text | None:
    return Text(f"… {total - shown} more", GREY) if total > shown else None


def _box(title: str, table: Table, shown: int, total: int, empty: str) -> RenderableType:
    head = Text(title, "bold")
    head.append(f" · {total}", GREY)
    if not shown:
        return Group(head, Text(empty, GREY))
    more = _more(shown, total)
    return Group(head, table, *([more] if more else []))


def worst_ips(snap: Snapshot, rows: int = ROWS) -> RenderableType:
    judged = [r for r in snap.report["ips"] if r["severity"] not in ("ok", "insufficient")]
    t = _table(15, 6, None)
    for r in judged[:rows]:
        sev = SEVERITY_STYLE.get(r["severity"], "")
        status = r["status"] or ""
        t.add_row(
            r["ip"], Text(pct(r["bounce_rate"]), sev), Text(status, STATE_STYLE.get(status, ""))
        )
    return _box("Worst IPs", t, min(rows, len(judged)), len(judged), "every IP below warning")


def moving_warmups(snap: Snapshot, rows: int = ROWS) -> RenderableType:
    moving = [w for w in snap.report["warmups"] if w["sent_today"] > 0 or w["state"] == "warming"]
    t = _table(15, 3, None)
    for w in moving[:rows]:
        sent, quota = w["sent_today"], w["daily_quota"]
        t.add_row(w["ip"], f"{w['stage']}/{w['stages_total']}",
                  f"{count(sent)}/{count(quota)} {progress(sent, quota, 5)}")  # fmt: skip
    return _box("Warmups today", t, min(rows, len(moving)), len(moving), "no warmup moving today")


def pools_with_removed(snap: Snapshot, rows: int = ROWS) -> RenderableType:
    hits: list[tuple[str, dict[str, Any]]] = [
        (p["name"], m)
        for p in snap.report["pools"]
        for m in p["members"]
        if m["state"] == "removed"
    ]
    t = _table(None, 15, 7)
    for pool, m in hits[:rows]:
        t.add_row(pool, m["ip"], Text("removed", STATE_STYLE["removed"]))
    return _box(
        "Removed from pools", t, min(rows, len(hits)), len(hits), "every member in rotation"
    )


def open_alerts(snap: Snapshot, rows: int = ROWS) -> RenderableType:
    live = [a for a in snap.report["alerts"] if a["state"] != "resolved"]
    t = _table(8, None)
    for a in live[:rows]:
        style = ALERT_SEVERITY_STYLE.get(a["severity"], "")
        t.add_row(
            Text(a["severity"], style), Text(a["title"], "" if a["state"] == "firing" else GREY)
        )
    return _box("Open alerts", t, min(rows, len(live)), len(live), "no open alert")


def overview_parts(snap: Snapshot) -> dict[str, RenderableType]:
    return {"ips": worst_ips(snap), "warmups": moving_warmups(snap),
            "pools": pools_with_removed(snap), "alerts": open_alerts(snap)}  # fmt: skip


class Overview(Horizontal):
    """Four boxes side by side; hidden below WIDE columns (the tabs alone fit 80x24)."""

    DEFAULT_CSS = f"""
    Overview {{ height: {ROWS + 4}; display: none; }}
    Overview.wide {{ display: block; }}
    Overview > Static {{ width: 1fr; height: 100%; border: round $primary-darken-2; padding: 0 0; }}
    """

    def compose(self):  # type: ignore[no-untyped-def]
        for name in ("ips", "warmups", "pools", "alerts"):
            yield Static(id=f"ov-{name}")

    def show(self, snap: Snapshot) -> None:
        for name, part in overview_parts(snap).items():
            self.query_one(f"#ov-{name}", Static).update(part)

    def fit(self, width: int) -> None:
        self.set_class(width >= WIDE, "wide")
