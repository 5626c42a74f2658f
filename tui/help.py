"""``?``: the keys, generated from the bindings that are really active (keymap applied,
read-only keys gone), so help never drifts from the code; and the colour legend.

The box is as wide as the screen allows (up to 110 columns) and wraps its text instead
of cutting it; it scrolls when taller than the screen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsconsole.styles import SEVERITY_MEANING, SEVERITY_STYLE, STATE_STYLE


@dataclass(frozen=True)
class KeyHelp:
    keys: str
    description: str
    enabled: bool = True
    note: str = ""


def legend() -> Table:
    """Each severity in its own colour with what it means (two per line), then the states."""
    t = Table(box=None, show_header=False, expand=True, padding=(0, 1), pad_edge=False)
    t.add_column("a", no_wrap=True)
    t.add_column("b", ratio=1, overflow="fold")
    t.add_column("c", no_wrap=True)
    t.add_column("d", ratio=1, overflow="fold")
    items = [(Text(f"■ {sev}", SEVERITY_STYLE[sev]), Text(meaning, "dim"))
             for sev, meaning in SEVERITY_MEANING.items()]  # fmt: skip
    states = Text()
    for state in ("active", "warming", "deprioritized", "paused", "removed"):
        states.append(state, STATE_STYLE[state])
        states.append(" ")
    items.append((Text("states", "bold"), states))
    items.append((Text("trend", "bold"), Text("↑ worse ↓ better: latest 15m vs the 15m before")))
    for i in range(0, len(items), 2):
        left = items[i]
        right = items[i + 1] if i + 1 < len(items) else (Text(""), Text(""))
        t.add_row(*left, *right)
    return t


def _plain(table: Table) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 110; min-width: 40; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    HelpScreen VerticalScroll { height: auto; max-height: 1fr; }
    HelpScreen .title { text-style: bold; }
    HelpScreen .footnote { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, entries: list[KeyHelp], footnote: str = "") -> None:
        super().__init__()
        self.entries = entries
        self.footnote = footnote

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Keys  (escape closes)", classes="title")
            if self.footnote:
                yield Static(self.footnote, markup=False, classes="footnote")
            with VerticalScroll(id="help-body"):
                yield Static(self._table(), id="help-keys")
                yield Static(legend(), id="help-legend")

    def _table(self) -> Table:
        table = Table(box=None, show_header=False, expand=True, padding=(0, 1), pad_edge=False)
        table.add_column("key", max_width=16, overflow="fold", style="bold")
        table.add_column("action", ratio=4, overflow="fold")
        table.add_column("note", no_wrap=True, style="dim")
        for e in self.entries:
            style = "" if e.enabled else "dim"
            table.add_row(Text(e.keys, style), Text(e.description, style), e.note)
        return table

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def text(self) -> str:
        """Everything the screen lists, as plain text (tests, screen readers)."""
        keys = "\n".join(f"{e.keys}\t{e.description}\t{e.note}" for e in self.entries)
        return f"{keys}\n{_plain(legend())}"
