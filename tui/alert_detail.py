"""Detail of one alert: its message and value, every transition (alert_event), and the
notifications sent for it with their outcome (outbox). Refreshes live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from opsconsole.core.sanitize import shown
from opsconsole.core.views import AlertDetail, ReadStore, alert_detail
from opsconsole.styles import ALERT_SEVERITY_STYLE, GREEN, RED, STATE_STYLE, YELLOW
from opsconsole.tui.cells import clock_time, parse_iso

OUTCOME_STYLE = {"sent": GREEN, "retrying": f"bold {RED}", "pending": YELLOW}


def value_text(rule: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f}%" if "rate" in rule else f"{value:g}"


class AlertDetailScreen(Screen[None]):
    DEFAULT_CSS = """
    AlertDetailScreen VerticalScroll { padding: 0 1; }
    AlertDetailScreen .heading { text-style: bold; padding-top: 1; }
    AlertDetailScreen #title { text-style: bold reverse; padding: 0 1; }
    AlertDetailScreen DataTable { height: auto; max-height: 14; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="alert.back"),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("f5", "reload", "Reload", id="alert.reload"),
    ]

    def __init__(
        self, alert_id: str, store: ReadStore, refresh_every: float = 1.0, title: str = ""
    ) -> None:
        super().__init__()
        self.alert_id = alert_id
        self.store = store
        self.refresh_every = refresh_every
        self.title_text = title
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Static(f"Alert {self.alert_id}  {self.title_text}", id="title", markup=False)
        with VerticalScroll():
            yield Static("", id="summary")
            yield Static("Transitions (times UTC)", classes="heading")
            yield DataTable(id="transitions", cursor_type="row")
            yield Static("Notifications (outbox)", classes="heading")
            yield DataTable(id="notifications", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#transitions", DataTable).add_columns(
            "time UTC", "transition", "by", "severity", "value", "note"
        )
        self.query_one("#notifications", DataTable).add_columns(
            "queued UTC", "notifier", "outcome", "attempts", "sent UTC", "error"
        )
        self.action_reload()
        self.set_interval(max(0.5, self.refresh_every), self.action_reload)

    def action_reload(self) -> None:
        if self.app.screen is self:
            self.run_worker(self._load(), exclusive=True, group="alert-detail")

    async def _load(self) -> None:
        self._fill(await alert_detail(self.store, self.alert_id))
        self.loads += 1

    def _fill(self, d: AlertDetail) -> None:
        a = d.alert
        summary = Text()
        if a is None:
            summary.append("no such alert (pruned?)", "dim")
        else:
            summary.append(a["severity"], ALERT_SEVERITY_STYLE.get(a["severity"], ""))
            summary.append("  ")
            summary.append(a["state"], STATE_STYLE.get(a["state"], ""))
            summary.append(f"  {a['rule']}  value {value_text(a['rule'], a['value'])}")
            summary.append(f"  IP {a['ip'] or '-'}")
            if a["subuser"]:
                summary.append(f" subuser {a['subuser']}")
            summary.append(f"\n{shown(a['message'])}\n", "")
            opened, seen = parse_iso(a["opened_at"]), parse_iso(a["last_seen_at"])
            summary.append(f"opened {clock_time(opened)} UTC · last seen {clock_time(seen)} UTC",
                           "dim")  # fmt: skip
            if a["acknowledged_by"]:
                summary.append(f" · acknowledged by {shown(a['acknowledged_by'])}", "dim")
        t_table = self.query_one("#transitions", DataTable)
        n_table = self.query_one("#notifications", DataTable)
        rule = a["rule"] if a else ""
        with self.app.batch_update():
            self.query_one("#summary", Static).update(summary)
            t_table.clear()
            for e in d.transitions:
                t_table.add_row(
                    clock_time(e["at"]), Text(shown(e["transition"])), Text(shown(e["actor"])),
                    Text(e["severity"] or "-", ALERT_SEVERITY_STYLE.get(e["severity"], "")),
                    value_text(rule, e["value"]), Text(shown(e["note"]) or "-"),
                )  # fmt: skip
            if not d.transitions:
                t_table.add_row("-", Text("no transitions recorded", "dim"), "", "", "", "")
            n_table.clear()
            for n in d.notifications:
                n_table.add_row(
                    clock_time(n["created_at"]), Text(shown(n["notifier"])),
                    Text(n["outcome"], OUTCOME_STYLE.get(n["outcome"], "")), str(n["attempts"]),
                    clock_time(n["sent_at"]), Text(shown(n["error"]) or "-"),
                )  # fmt: skip
            if not d.notifications:
                n_table.add_row("-", Text("no notifications for this alert", "dim"), "", "", "",
                                "")  # fmt: skip
