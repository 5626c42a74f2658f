"""Detail of one IP: its 15m / 1h / 24h windows, its timeline (24h of bounce rate with
listing and SNDS changes marked), its providers (15m/1h/24h each, suspension, top bounce
reasons), its reputation (zones, SNDS days), recent bounce diagnostics, actions taken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from opsconsole.core.config import EngineConfig
from opsconsole.core.ip_console import DETAIL_WINDOWS, Timeline, ip_providers, ip_reputation
from opsconsole.core.sanitize import shown
from opsconsole.core.views import IpDetail, ReadStore, ip_detail, ip_timeline
from opsconsole.styles import ALERT_SEVERITY_STYLE, GREY, SEVERITY_STYLE
from opsconsole.tui.cells import clock_time, count, parse_iso, pct
from opsconsole.tui.chart import AXIS, SNDS_STYLE, TimelineChart

Row = dict[str, Any]


class IpDetailScreen(Screen[None]):
    DEFAULT_CSS = """
    IpDetailScreen VerticalScroll { padding: 0 1; }
    IpDetailScreen .heading { text-style: bold; padding-top: 1; }
    IpDetailScreen #title { text-style: bold reverse; padding: 0 1; }
    IpDetailScreen DataTable { height: auto; max-height: 14; }
    IpDetailScreen #diag-full { color: $text-muted; padding: 0 0 0 2; }
    IpDetailScreen #reasons, IpDetailScreen #rep-note { color: $text-muted; padding: 0 0 0 2; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("f5", "reload", "Reload", id="detail.reload"),
    ]

    def __init__(
        self,
        ip: str,
        store: ReadStore,
        config: EngineConfig,
        clock: Callable[[], float],
        context: str = "",
        refresh_every: float = 0.0,
    ) -> None:
        super().__init__()
        self.ip = ip
        self.store = store
        self.config = config
        self.clock = clock
        self.context = context
        self.refresh_every = refresh_every  # 0: no live refresh (f5 only)
        self.diags: list[str] = []
        self.providers: list[Row] = []
        self.timeline: Timeline | None = None
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Static(f"IP {self.ip}  {self.context}", id="title", markup=False)
        with VerticalScroll():
            yield Static("Windows", classes="heading")
            yield DataTable(id="windows", cursor_type="row", show_cursor=False)
            yield Static("Timeline: bounce rate, last 24h", classes="heading", id="timeline-head")
            yield TimelineChart(id="timeline")
            yield Static("Providers", classes="heading")
            yield DataTable(id="providers", cursor_type="row")
            yield Static("", id="reasons")
            yield Static("Reputation", classes="heading")
            yield DataTable(id="reputation", cursor_type="row", show_cursor=False)
            yield DataTable(id="snds", cursor_type="row", show_cursor=False)
            yield Static("Recent bounce diagnostics", classes="heading")
            yield DataTable(id="samples", cursor_type="row")
            yield Static("", id="diag-full", markup=False)
            yield Static("Actions taken (audit)", classes="heading")
            yield DataTable(id="audit", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        w = self.query_one("#windows", DataTable)
        # Short labels: all ten columns fit 80 columns (with "delivered" and "deferred"
        # spelt out, "severity" was cut to "criti" there).
        short = {"delivered": "deliv", "deferred": "defer"}
        for key in ("window", "sent", "delivered", "bounced", "hard", "soft", "deferred",
                    "cmpl", "bounce", "severity"):  # fmt: skip
            w.add_column(short.get(key, key), key=key)
        p = self.query_one("#providers", DataTable)
        p.add_column("provider", key="provider")
        for name, _s in DETAIL_WINDOWS:
            p.add_column(f"sent {name}", key=f"sent-{name}")
            p.add_column(f"bounce {name}", key=f"bounce-{name}")
        p.add_columns("severity", "suspended until", "top reason")
        self.query_one("#reputation", DataTable).add_columns(
            "zone", "listed", "code", "meaning", "checked UTC"
        )
        self.query_one("#snds", DataTable).add_columns(
            "SNDS day", "filter", "complaints", "trap hits", "recipients", "blocked"
        )
        self.query_one("#samples", DataTable).add_columns(
            "time UTC", "subuser", "domain", "status", "diagnostic"
        )
        self.query_one("#audit", DataTable).add_columns(
            "time UTC", "actor", "action", "pool", "reason"
        )
        self.action_reload()
        if self.refresh_every > 0:
            self.set_interval(max(0.5, self.refresh_every), self.action_reload)

    def action_reload(self) -> None:
        if self.app.screen is self:
            self.run_worker(self._load(), exclusive=True, group="detail")

    def chart_slots(self) -> int:
        """96 quarter hours when the screen is wide enough, else 48 half hours."""
        return 96 if self.app.size.width >= AXIS + 96 + 4 else 48

    async def _load(self) -> None:
        now = self.clock()
        detail = await ip_detail(self.store, self.config, self.ip, now)
        providers = await ip_providers(self.store, self.config, self.ip, now)
        reputation = await ip_reputation(self.store, self.ip)
        timeline = await ip_timeline(self.store, self.config, self.ip, now, self.chart_slots())
        self._fill(detail)
        self._fill_more(providers, reputation, timeline)
        self.loads += 1

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted bounce's whole diagnostic (or provider's top reasons), wrapped,
        under the table."""
        if event.data_table.id == "providers":
            row = event.cursor_row
            if 0 <= row < len(self.providers):
                self.query_one("#reasons", Static).update(reasons_text(self.providers[row]))
        if event.data_table.id == "samples":
            row = event.cursor_row
            text = self.diags[row] if 0 <= row < len(self.diags) else ""
            self.query_one("#diag-full", Static).update(text)

    def _fill(self, detail: IpDetail) -> None:
        w = self.query_one("#windows", DataTable)
        s_table = self.query_one("#samples", DataTable)
        a_table = self.query_one("#audit", DataTable)
        with self.app.batch_update():
            w.clear()
            for r in detail.windows:
                style = SEVERITY_STYLE.get(r["severity"], "")
                w.add_row(
                    r["window"], count(r["sent"]), count(r["delivered"]), count(r["bounced"]),
                    count(r["hard_bounced"]), count(r["soft_bounced"]), count(r["deferred"]),
                    count(r["complaints"]), Text(pct(r["bounce_rate"]), style),
                    Text(r["severity"], style),
                )  # fmt: skip
            cursor = s_table.cursor_row
            s_table.clear()
            samples = detail.samples
            self.diags = [shown(r["diag"]) for r in samples]
            for r in samples:
                s_table.add_row(
                    clock_time(r["ts"]), Text(shown(r["subuser"]) or "-"),
                    Text(shown(r["rcpt_domain"]) or "-"),
                    Text(shown(r["status"]) or "-", "red" if r["hard"] else "yellow"),
                    Text(shown(r["diag"]), no_wrap=True, overflow="ellipsis"),
                )  # fmt: skip
            if not samples:
                s_table.add_row("-", "-", "-", "-", Text("no bounces kept for this IP", "dim"))
            else:
                s_table.move_cursor(row=min(cursor, len(samples) - 1))
                self.query_one("#diag-full", Static).update(
                    self.diags[min(cursor, len(samples) - 1)]
                )
            a_table.clear()
            entries = detail.audit
            for e in entries:
                a_table.add_row(
                    clock_time(e["at"]), Text(shown(e["actor"])), Text(shown(e["action"])),
                    Text(shown(e["pool"]) or "-"),
                    Text(shown(e["reason"]), no_wrap=True, overflow="ellipsis"),
                )  # fmt: skip
            if not entries:
                a_table.add_row("-", "-", "-", "-", Text("no actions recorded", "dim"))

    def _fill_more(self, providers: list[Row], reputation: dict[str, list[Row]],
                   timeline: Timeline) -> None:  # fmt: skip
        self.providers, self.timeline = providers, timeline
        p = self.query_one("#providers", DataTable)
        r = self.query_one("#reputation", DataTable)
        d = self.query_one("#snds", DataTable)
        with self.app.batch_update():
            self.query_one(TimelineChart).show(timeline)
            step = timeline.step // 60
            self.query_one("#timeline-head", Static).update(
                f"Timeline: bounce rate, last 24h ({step}-minute slots, UTC)"
            )
            cursor = p.cursor_row
            p.clear()
            for row in providers:
                cells: list[Any] = [Text(shown(row["provider"]))]
                for name, _s in DETAIL_WINDOWS:
                    w = row["windows"][name]
                    style = SEVERITY_STYLE.get(w["severity"], "")
                    cells += [count(w["sent"]), Text(pct(w["bounce_rate"]), style)]
                sev = row["windows"]["1h"]["severity"]
                until = parse_iso(row["suspended_until"])
                top = row["reasons"][0] if row["reasons"] else None
                cells += [
                    Text(sev, SEVERITY_STYLE.get(sev, "")),
                    Text(clock_time(until), "bold" if until else "dim"),
                    Text(f"{top[1]}x {shown(top[0])}" if top else "-", no_wrap=True,
                         overflow="ellipsis"),
                ]  # fmt: skip
                p.add_row(*cells)
            if not providers:
                p.add_row(Text("no provider counts for this IP", "dim"), *[""] * 9)
                self.query_one("#reasons", Static).update("")
            else:
                at = min(cursor, len(providers) - 1)
                p.move_cursor(row=at)
                self.query_one("#reasons", Static).update(reasons_text(providers[at]))
            r.clear()
            for z in reputation["results"]:
                style = (ALERT_SEVERITY_STYLE.get(z["severity"] or "", "")
                         if z["listed"] else GREY)  # fmt: skip
                state = "listed" if z["listed"] else ("refused" if z["refused"] else
                                                      "error" if z["error"] else "no")  # fmt: skip
                r.add_row(
                    Text(shown(z["zone"])), Text(state, style), Text(shown(z["code"] or "-")),
                    Text(shown(z["meaning"] or z["error"] or "-"), no_wrap=True,
                         overflow="ellipsis"),
                    clock_time(parse_iso(z["checked_at"])),
                )  # fmt: skip
            if not reputation["results"]:
                r.add_row(Text("no DNSBL results ([reputation] off or not run yet)", "dim"),
                          "", "", "", "")  # fmt: skip
            d.clear()
            for s in reputation["snds"]:
                cr = s["complaint_rate"]
                d.add_row(
                    s["day"], Text(shown(s["filter"]), SNDS_STYLE.get(s["filter"].upper(), "")),
                    "-" if cr is None else f"{cr * 100:.2f}%",
                    Text(str(s["trap_hits"]), "bold" if s["trap_hits"] else "dim"),
                    count(s["recipients"]), Text("yes", "bold") if s["blocked"] else "no",
                )  # fmt: skip
            if not reputation["snds"]:
                d.add_row(Text("no SNDS data", "dim"), "", "", "", "", "")


def reasons_text(row: Row) -> str:
    """``microsoft: 12x reputation 5.7.1 · 3x ...`` for the line under the provider table."""
    if not row["reasons"]:
        return f"{row['provider']}: no bounce samples kept"
    return f"{row['provider']}: " + " · ".join(f"{n}x {why}" for why, n in row["reasons"])
