"""``?``: the keys, generated from the bindings that are really active (keymap applied,
read-only keys gone), so help never drifts from the code."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


@dataclass(frozen=True)
class KeyHelp:
    keys: str
    description: str
    enabled: bool = True
    note: str = ""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    HelpScreen DataTable { height: auto; max-height: 20; }
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
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            if self.footnote:
                yield Static(self.footnote, markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "")
        for e in self.entries:
            style = "" if e.enabled else "dim"
            table.add_row(Text(e.keys, "bold " + style), Text(e.description, style),
                          Text(e.note, "dim"))  # fmt: skip
        table.focus()

    def text(self) -> str:
        """Everything the screen lists, as plain text (tests, screen readers)."""
        return "\n".join(f"{e.keys}\t{e.description}\t{e.note}" for e in self.entries)
