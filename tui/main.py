"""The main screen: four live panels, the keys of spec section 7, and the filter bar.

Every key is a ``Binding`` with an id (remappable through ``[tui] keymap``) bound to an
action; ``check_action`` hides the state-changing ones in --read-only, and the help screen
and command palette are built from the same bindings.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from opsconsole.core.views import Snapshot
from opsconsole.settings import default_config_path
from opsconsole.tui.dialogs import AckDialog, ConfirmDialog, ExportDialog, ResolveDialog
from opsconsole.tui.header import StatusBar
from opsconsole.tui.help import HelpScreen, KeyHelp
from opsconsole.tui.member_confirm import member_confirm, undo_confirm
from opsconsole.tui.overview import WIDE, Overview
from opsconsole.tui.palette import OpsCommands
from opsconsole.tui.panels.alerts import AlertsPanel
from opsconsole.tui.panels.base import Panel, sort_letters
from opsconsole.tui.panels.ips import IpsPanel
from opsconsole.tui.panels.pools import PoolsPanel
from opsconsole.tui.panels.warmups import WarmupsPanel
from opsconsole.tui.welcome import Welcome, is_empty, next_steps

if TYPE_CHECKING:
    from opsconsole.tui.app import OpsApp

PANELS: tuple[tuple[str, type[Panel]], ...] = (
    ("ips", IpsPanel),
    ("warmups", WarmupsPanel),
    ("pools", PoolsPanel),
    ("alerts", AlertsPanel),
)
# Actions that change state: hidden (keys, palette, help) and refused in --read-only.
MUTATING = frozenset({"toggle_warmup", "toggle_member", "ack", "resolve", "undo"})
ALERT_ACTIONS = frozenset({"ack", "resolve"})
APP_HELP = {"command_palette": "Command palette: every action by name", "quit": "Quit"}


SORT_LETTERS = sorted(set().union(*(sort_letters(cls.COLUMNS) for _, cls in PANELS)))
SORT_HELP = "Sort by the column whose letter is underlined in its header; again: reverse"


def compile_filter(text: str) -> re.Pattern[str] | None:
    """A case-insensitive regex; text that is not a valid regex matches literally (and
    ``filter_error`` says why)."""
    if not text:
        return None
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(text), re.IGNORECASE)


def filter_error(text: str) -> str:
    """Why ``text`` is not a regex ("" when it is one)."""
    try:
        re.compile(text)
    except re.error as e:
        return f"not a regex ({e.msg}): matched as plain text"
    return ""


class MainScreen(Screen[None]):
    COMMANDS = {OpsCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter"),
        Binding("enter", "detail", "Detail", id="detail"),
        Binding("p", "toggle_warmup", "Pause", id="warmup"),
        Binding("a", "ack", "Ack", id="ack"),
        Binding("r", "resolve", "Resolve", id="resolve"),
        Binding("x", "toggle_member", "Remove", id="member"),
        Binding("u", "undo", "Undo", id="undo"),
        Binding("e", "export", "Export", id="export"),
        Binding("space", "freeze", "Freeze", id="freeze"),
        *(
            Binding(ch.upper(), f"sort_by('{ch}')", "Sort", id=f"sort_{ch}", show=False)
            for ch in SORT_LETTERS
        ),
        Binding("minus", "sort(True)", "Reverse sort", id="sort_reverse", show=False),
        Binding("j", "cursor('down')", "Down", id="down", show=False),
        Binding("k", "cursor('up')", "Up", id="up", show=False),
        Binding("tab", "next_panel", "Next panel", id="next_panel", show=False),
        Binding("shift+tab", "prev_panel", "Previous panel", id="prev_panel", show=False),
        Binding("1", "panel('ips')", "IPs panel", id="panel_ips", show=False),
        Binding("2", "panel('warmups')", "Warmups panel", id="panel_warmups", show=False),
        Binding("3", "panel('pools')", "Pools panel", id="panel_pools", show=False),
        Binding("4", "panel('alerts')", "Alerts panel", id="panel_alerts", show=False),
        Binding("q", "quit", "Quit", id="quit"),
    ]
    # What help and the palette say about each binding id (the footer keeps it short)
    LONG_HELP = {
        "help": "This help, built from the active keys",
        "filter": "Filter rows: text or regex, on every panel",
        "clear_filter": "Clear the filter",
        "detail": "Detail of the selected IP (15m/1h/24h, diagnostics, audit) or alert",
        "warmup": "Pause or resume the selected IP's warmup (asks to confirm)",
        "ack": "Acknowledge the selected alert (asks who, optional note)",
        "resolve": "Resolve the selected alert (with a note)",
        "member": "Remove or restore the selected IP in its pool (asks to confirm)",
        "undo": "Undo the selected IP's last action, the engine's own too (asks to confirm)",
        "export": "Export a report (format, path)",
        "freeze": "Freeze / unfreeze the live refresh",
        "sort_reverse": "Reverse the sort of this panel",
        "down": "Move down",
        "up": "Move up",
        **{f"sort_{ch}": SORT_HELP for ch in SORT_LETTERS},
        "next_panel": "Next panel",
        "prev_panel": "Previous panel",
        "quit": "Quit",
    }
    # Palette-only actions (no key): (title, help, action)
    EXTRA_COMMANDS: tuple[tuple[str, str, str], ...] = ()
    DEFAULT_CSS = """
    MainScreen TabbedContent { height: 1fr; }
    MainScreen TabPane { padding: 0; }
    MainScreen Panel { height: 1fr; }
    MainScreen OpsTable { height: 1fr; }
    MainScreen #filter { display: none; height: 1; border: none; padding: 0 1; }
    MainScreen #filter.shown { display: block; }
    MainScreen #rowinfo { height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(id="main")
        self.pattern: re.Pattern[str] | None = None
        self.filter_text = ""
        self.filter_problem = ""
        self.snapshot: Snapshot | None = None
        self._stale: set[str] = {name for name, _ in PANELS}
        self._tab_labels: dict[str, str] = {}
        self.applied = 0  # refreshes applied to a panel (tests, benchmarks)

    @property
    def ops(self) -> OpsApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Overview(id="overview")
        yield Welcome(id="welcome")
        with TabbedContent(id="tabs", initial="ips"):
            for n, (name, cls) in enumerate(PANELS, 1):
                with TabPane(f"{n} {cls.TITLE}", id=name):
                    yield cls(id=f"panel-{name}")
        yield Input(
            id="filter", placeholder="filter rows: text or regex (enter keeps, escape clears)"
        )
        yield Static("", id="rowinfo", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._fit(self.app.size.width)
        self.focus_panel()

    def on_resize(self, event: Any) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        self.query_one(Overview).fit(width)
        # The footer's docked "^p Palette" overlapped the keys below 120 columns and left a
        # stray letter after it; there, ^p is in the help (?) instead.
        self.query_one(Footer).show_command_palette = width >= WIDE
        # The IPs panel's columns follow the width (tui/panels/ips.py): a new set is empty
        if self.query_one("#panel-ips", IpsPanel).fit(width):
            self._stale.add("ips")
            if self.is_shown() and not self.ops.frozen:
                self.apply_active()

    # -- panels --------------------------------------------------------------------------

    @property
    def active_name(self) -> str:
        return self.query_one(TabbedContent).active or "ips"

    def panel(self, name: str | None = None) -> Panel:
        return self.query_one(f"#panel-{name or self.active_name}", Panel)

    def focus_panel(self) -> None:
        self.panel().table.focus()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.apply_active()
        self.call_after_refresh(self.focus_panel)
        self.refresh_bindings()

    # -- live refresh --------------------------------------------------------------------

    def is_shown(self) -> bool:
        return self.app.screen is self

    def show(self, snap: Snapshot) -> None:
        """A new snapshot: redraw only the visible panel, and only when nothing covers it."""
        self.snapshot = snap
        self._stale = {name for name, _ in PANELS}
        if self.is_shown() and not self.ops.frozen:
            self.apply_active()

    def apply_active(self) -> None:
        name = self.active_name
        if self.snapshot is None or name not in self._stale:
            self._update_row_info()
            return
        self._stale.discard(name)
        self.panel(name).apply(self.snapshot, self.pattern)
        self._welcome(self.snapshot)
        overview = self.query_one(Overview)
        if overview.has_class("wide"):
            overview.show(self.snapshot)
        self.applied += 1
        self._update_tab_labels(self.snapshot)
        self._update_row_info()

    def _welcome(self, snap: Snapshot) -> None:
        box = self.query_one(Welcome)
        empty = is_empty(snap.report)
        if empty and not box.has_class("shown"):
            settings = self.ops.settings
            box.update(next_steps(default_config_path(), bool(settings.sources)))
        box.set_class(empty, "shown")

    def on_screen_resume(self) -> None:
        if not self.ops.frozen:
            self.apply_active()

    def _update_tab_labels(self, snap: Snapshot) -> None:
        r = snap.report
        firing = sum(1 for a in r["alerts"] if a["state"] == "firing")
        members = sum(len(p["members"]) for p in r["pools"])
        shown = str(len(r["ips"]))
        if r.get("ips_totals", {}).get("omitted"):  # the worst N of many: "500/1,000,000"
            shown = f"{shown}/{r['ips_totals']['ips']:,}"
        counts = {"ips": shown, "warmups": str(len(r["warmups"])),
                  "pools": str(members), "alerts": f"{firing}!" if firing else "0"}  # fmt: skip
        tabs = self.query_one(TabbedContent)
        for n, (name, cls) in enumerate(PANELS, 1):
            label = f"{n} {cls.TITLE} {counts[name]}"
            if self._tab_labels.get(name) != label:
                self._tab_labels[name] = label
                tabs.get_tab(name).label = label

    def _update_row_info(self) -> None:
        p = self.panel()
        shown = p.table.row_count
        parts = [f"{shown} of {p.total} rows" if self.pattern else f"{p.total} rows"]
        if self.pattern:
            parts.append(f"filter /{self.filter_text}/")
            if self.filter_problem:
                parts.append(self.filter_problem)
        if p.sort_column:
            label = next(c.label for c in p.COLUMNS if c.key == p.sort_column) or p.sort_column
            parts.append(f"sort {label} {'▼' if p.sort_reverse else '▲'}")
        self.query_one("#rowinfo", Static).update("  ·  ".join(parts))

    # -- bindings ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING and self.ops.read_only:
            return False
        if action == "clear_filter":
            return bool(self.pattern) or self.query_one("#filter", Input).has_class("shown")
        if action in ALERT_ACTIONS and self.active_name != "alerts":
            return None  # shown, disabled: these work on the Alerts panel (on_key says so)
        return True

    def on_key(self, event: Any) -> None:
        """A disabled alert key (outside the Alerts panel) says why instead of nothing."""
        for ab in self.active_bindings.values():
            b = ab.binding
            if b.key == event.key and b.action in ALERT_ACTIONS and not ab.enabled:
                event.stop()
                self._selected_alert("acknowledged" if b.action == "ack" else "resolved")
                return

    def key_help(self) -> list[KeyHelp]:
        """Every key of this screen that is active now (keymap applied, read-only ones gone),
        in BINDINGS order, then the app's own (palette, quit)."""
        by_id: dict[str, list[str]] = {}
        state: dict[str, bool] = {}
        app_keys: list[KeyHelp] = []
        for ab in self.active_bindings.values():
            b = ab.binding
            if ab.node is self and b.id:
                by_id.setdefault(b.id, []).append(self.app.get_key_display(b))
                state[b.id] = ab.enabled
            elif ab.node is self.app and b.action in APP_HELP:
                app_keys.append(KeyHelp(self.app.get_key_display(b), APP_HELP[b.action]))
        out: list[KeyHelp] = []
        for entry in self.BINDINGS:
            assert isinstance(entry, Binding)
            b = entry
            if b.id not in by_id or (b.id == "clear_filter" and not state[b.id]):
                continue
            if b.id.startswith("sort_") and b.id != "sort_reverse":
                if b.id == f"sort_{SORT_LETTERS[0]}":
                    keys = " ".join(by_id.pop(f"sort_{ch}", [""])[0] for ch in SORT_LETTERS)
                    out.append(KeyHelp(keys, SORT_HELP + " (or click it)"))
                continue
            note = "Alerts panel (4)" if b.action in ALERT_ACTIONS else ""
            text = self.LONG_HELP.get(b.id, b.description)
            out.append(KeyHelp(" ".join(by_id.pop(b.id)), text, state[b.id], note))
        out.extend(app_keys)
        out.append(KeyHelp("↑↓ pgup pgdn", "Move the cursor"))
        return out

    def palette_entries(self) -> list[tuple[str, str, str]]:
        keys = {ab.binding.action: self.app.get_key_display(ab.binding)
                for ab in self.active_bindings.values()}  # fmt: skip
        out = []
        for b in self.BINDINGS:
            assert isinstance(b, Binding)
            action = b.action
            name = action.split("(")[0]
            if self.check_action(name, ()) is False or action == "clear_filter":
                continue
            text = self.LONG_HELP.get(b.id or "", b.description)
            out.append((text, f"key: {keys.get(action, b.key)}", action))
        out.extend(self.EXTRA_COMMANDS)
        return out

    # -- actions: navigation -------------------------------------------------------------

    def action_panel(self, name: str) -> None:
        self.query_one(TabbedContent).active = name

    def _step_panel(self, step: int) -> None:
        names = [n for n, _ in PANELS]
        self.action_panel(names[(names.index(self.active_name) + step) % len(names)])

    def action_next_panel(self) -> None:
        self._step_panel(1)

    def action_prev_panel(self) -> None:
        self._step_panel(-1)

    def action_sort(self, reverse_only: bool = False) -> None:
        label = self.panel().sort_by(None, reverse_only=True)
        self._update_row_info()
        self.notify(f"sorted by {label}", timeout=2)

    def action_sort_by(self, letter: str) -> None:
        panel = self.panel()
        column = panel.letters.get(letter)
        if column is None:
            keys = " ".join(k.upper() for k in panel.letters)
            self.notify(f"no column {letter.upper()} on {panel.TITLE}: {keys}", timeout=3)
            return
        label = panel.sort_by(column)
        self._update_row_info()
        self.notify(f"sorted by {label}", timeout=2)

    def action_cursor(self, direction: str) -> None:
        table = self.panel().table
        if direction == "down":
            table.action_cursor_down()
        else:
            table.action_cursor_up()

    def action_help(self) -> None:
        ro = "  Read-only: keys that change state are hidden." if self.ops.read_only else ""
        self.app.push_screen(HelpScreen(self.key_help(), f"ctrl+p: every action by name.{ro}"))

    async def action_quit(self) -> None:
        await self.ops.action_quit()

    # -- filter --------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("shown")
        box.value = ""
        self.set_filter("")
        self.focus_panel()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            self.action_clear_filter()
        else:
            self.focus_panel()

    def set_filter(self, text: str) -> None:
        if text == self.filter_text:
            return
        self.filter_text = text
        self.pattern = compile_filter(text)
        self.filter_problem = filter_error(text) if text else ""
        self._stale = {name for name, _ in PANELS}
        self.apply_active()
        self.refresh_bindings()

    # -- freeze --------------------------------------------------------------------------

    def action_freeze(self) -> None:
        self.ops.set_frozen(not self.ops.frozen)
        if not self.ops.frozen:
            self.apply_active()

    # -- detail --------------------------------------------------------------------------

    def on_data_table_row_selected(self) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        from opsconsole.tui.detail import IpDetailScreen

        if self.active_name == "alerts":
            self._alert_detail()
            return
        ip = self.panel().selected_ip()
        if not ip:
            self.notify("No IP on this row", severity="warning")
            return
        self.app.push_screen(
            IpDetailScreen(
                ip,
                self.ops.store,
                self.ops.config,
                self.ops.clock,
                self._ip_context(ip),
                refresh_every=self.ops.refresh_interval,
            )
        )

    def _alert_detail(self) -> None:
        from opsconsole.tui.alert_detail import AlertDetailScreen

        alert = self.panel().selected()
        if alert is None:
            self.notify("No alert selected", severity="warning")
            return
        self.app.push_screen(
            AlertDetailScreen(alert["id"], self.ops.store, self.ops.refresh_interval,
                              alert["title"])
        )  # fmt: skip

    def _ip_context(self, ip: str) -> str:
        snap = self.snapshot
        if snap is None:
            return ""
        parts = [f"pool {pool} ({m['state']}, weight {m['weight']:g}/{m['base_weight']:g})"
                 for pool, m in snap.members_of(ip)]  # fmt: skip
        w = snap.warmup_of(ip)
        if w:
            parts.append(f"warmup stage {w['stage']}/{w['stages_total']} {w['state']}")
        return " · ".join(parts) or "not in a pool"

    # -- actions that change state (through opsconsole.core.engine.control) --

    def action_toggle_warmup(self) -> None:
        ip = self.panel().selected_ip()
        w = self.snapshot.warmup_of(ip) if ip and self.snapshot else None
        if not ip or w is None:
            self.notify(f"No warmup plan for {ip or 'this row'}", severity="warning")
            return
        resume = w["state"] == "paused"
        verb = "warmup.resume" if resume else "warmup.pause"
        title = f"{'Resume' if resume else 'Pause'} the warmup of {ip}?"
        body = (f"Stage {w['stage']}/{w['stages_total']}, {w['state']}. "
                + ("Sending resumes at the plan's quota." if resume
                   else "The IP stops advancing and gets no warmup traffic."))  # fmt: skip
        self._confirm(title, body, "Resume" if resume else "Pause", verb, {"ip": ip})

    def action_toggle_member(self) -> None:
        panel = self.panel()
        item = panel.selected()
        ip = item.get("ip") if item else None
        if not ip or self.snapshot is None:
            self.notify("No IP on this row", severity="warning")
            return
        members = self.snapshot.members_of(ip)
        if isinstance(panel, PoolsPanel) and item:
            members = [(p, m) for p, m in members if p == item["pool"]] or members
        if not members:
            self.notify(f"{ip} is in no rotation pool", severity="warning")
            return
        pool, m = members[0]
        ip_row = next((r for r in self.snapshot.report["ips"] if r["ip"] == ip), None)
        title, body, ok, verb = member_confirm(
            ip, pool, m, ip_row, self.ops.config.monitor.restore_holdoff,
            [p for p, _ in members[1:]],
        )  # fmt: skip
        self._confirm(title, body, ok, verb, {"pool": pool, "ip": ip})

    def action_undo(self) -> None:
        item = self.panel().selected()
        ip = item.get("ip") if item else None
        if not ip:
            self.notify("No IP on this row", severity="warning")
            return
        self.run_worker(self._undo(ip), group="undo")

    async def _undo(self, ip: str) -> None:
        from opsconsole.core.holdoff_views import last_undoable

        entry = await last_undoable(self.ops.store, ip)
        if entry is None:
            self.notify(f"{ip} has no action that can be undone", severity="warning")
            return
        title, body = undo_confirm(entry)
        self._confirm(title, body, "Undo", "action.undo", {"id": str(entry["id"])})

    def _confirm(self, title: str, body: str, ok: str, verb: str, args: dict[str, Any]) -> None:
        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                extra = {"reason": result["reason"]} if result.get("reason") else {}
                self.ops.run_command(verb, {**args, **extra})

        self.app.push_screen(ConfirmDialog(title, body, ok), done)

    def _selected_alert(self, verb: str = "acknowledged") -> dict[str, Any] | None:
        if self.active_name != "alerts":
            self.notify(f"Alerts are {verb} on the Alerts panel: press 4 first",
                        severity="warning")  # fmt: skip
            return None
        alert = self.panel().selected()
        if alert is None:
            self.notify("No alert selected", severity="warning")
        return alert

    def action_ack(self) -> None:
        alert = self._selected_alert()
        if alert is None:
            return
        if alert["state"] != "firing":
            self.notify(f"Alert is already {alert['state']}", severity="warning")
            return

        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                args = {"id": alert["id"], "note": result["note"]}
                self.ops.run_command("alert.ack", args, actor=result["who"])

        self.app.push_screen(AckDialog(f"Acknowledge: {alert['title']}", _alert_line(alert)), done)

    def action_resolve(self) -> None:
        alert = self._selected_alert("resolved")
        if alert is None:
            return
        if alert["state"] == "resolved":
            self.notify("Alert is already resolved", severity="warning")
            return

        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                self.ops.run_command("alert.resolve", {"id": alert["id"], "note": result["note"]})

        self.app.push_screen(ResolveDialog(f"Resolve: {alert['title']}", _alert_line(alert)), done)

    # -- export --------------------------------------------------------------------------

    def action_export(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.ops.clock()))

        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                self.ops.export(result["format"], result["path"])

        self.app.push_screen(ExportDialog(Path.cwd(), stamp), done)


def _alert_line(alert: dict[str, Any]) -> str:
    who = f" (subuser {alert['subuser']})" if alert.get("subuser") else ""
    return f"{alert['severity']} · {alert['ip'] or '-'}{who} · {alert['message']}"
