"""Detail of one IP: its 15m / 1h / 24h windows, recent bounce diagnostics, actions taken."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from opsconsole.core.config import EngineConfig
from opsconsole.core.sanitize import shown
from opsconsole.core.views import IpDetail, ReadStore, ip_detail
from opsconsole.styles import SEVERITY_STYLE
from opsconsole.tui.cells import clock_time, count, pct


class IpDetailScreen(Screen[None]):
    DEFAULT_CSS = """
    IpDetailScreen VerticalScroll { padding: 0 1; }
    IpDetailScreen .heading { text-style: bold; padding-top: 1; }
    IpDetailScreen #title { text-style: bold reverse; padding: 0 1; }
    IpDetailScreen DataTable { height: auto; max-height: 14; }
    IpDetailScreen #diag-full { color: $text-muted; padding: 0 0 0 2; }
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
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Static(f"IP {self.ip}  {self.context}", id="title", markup=False)
        with VerticalScroll():
            yield Static("Windows", classes="heading")
            yield DataTable(id="windows", cursor_type="row", show_cursor=False)
            yield Static("Recent bounce diagnostics", classes="heading")
            yield DataTable(id="samples", cursor_type="row")
            yield Static("", id="diag-full", markup=False)
            yield Static("Actions taken (audit)", classes="heading")
            yield DataTable(id="audit", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        w = self.query_one("#windows", DataTable)
        for label in ("window", "sent", "delivered", "bounced", "hard", "soft", "deferred",
                      "cmpl", "bounce", "severity"):  # fmt: skip
            w.add_column(label, key=label)
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

    async def _load(self) -> None:
        self._fill(await ip_detail(self.store, self.config, self.ip, self.clock()))
        self.loads += 1

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted bounce's whole diagnostic, wrapped, under the table."""
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
