"""``?``: the keys, generated from the bindings that are really active (keymap applied,
read-only keys gone), so help never drifts from the code; and the colour legend.

The box is as wide as the screen allows (up to 110 columns) and wraps its text instead
of cutting it; it scrolls when taller than the screen.
"""

from __future__ import annotations

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


def legend() -> Text:
    """One line per severity in its own colour, then the states that have colours."""
    t = Text()
    t.append("Colours  ", "bold")
    for n, (sev, meaning) in enumerate(SEVERITY_MEANING.items()):
        t.append("  " if n else "")
        t.append(f"■ {sev}", SEVERITY_STYLE[sev])
        t.append(f" {meaning}", "dim")
    t.append("\nStates   ", "bold")
    for n, state in enumerate(("active", "warming", "deprioritized", "paused", "removed")):
        t.append("  " if n else "")
        t.append(state, STATE_STYLE[state])
    t.append("   trend ↑ worse ↓ better than the window before", "dim")
    return t


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 110; min-width: 40; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    HelpScreen VerticalScroll { height: auto; max-height: 1fr; }
    HelpScreen .title { text-style: bold; }
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
            with VerticalScroll(id="help-body"):
                yield Static(self._table(), id="help-keys")
                yield Static(legend(), id="help-legend")
                if self.footnote:
                    yield Static(self.footnote, markup=False)

    def _table(self) -> Table:
        table = Table(box=None, show_header=False, expand=True, padding=(0, 1), pad_edge=False)
        table.add_column("key", no_wrap=True, style="bold")
        table.add_column("action", ratio=3, overflow="fold")
        table.add_column("note", ratio=1, overflow="fold", style="dim")
        for e in self.entries:
            style = "" if e.enabled else "dim"
            table.add_row(Text(e.keys, style), Text(e.description, style), e.note)
        return table

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def text(self) -> str:
        """Everything the screen lists, as plain text (tests, screen readers)."""
        keys = "\n".join(f"{e.keys}\t{e.description}\t{e.note}" for e in self.entries)
        return f"{keys}\n{legend().plain}"
