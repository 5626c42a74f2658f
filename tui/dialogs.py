"""Modal dialogs: confirm a traffic change, acknowledge or resolve an alert, export.

Each returns a dict of what the operator entered, or None when cancelled (escape). Enter in
the last field submits, so every dialog works from the keyboard alone.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from opsconsole.render import FORMATS

EXTENSIONS = {"json": "json", "csv": "csv", "markdown": "md", "table": "txt"}


def current_user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:
        return "operator"


class Dialog(ModalScreen[dict[str, Any] | None]):
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical {
        width: 70; max-width: 95%; height: auto; max-height: 95%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    Dialog .title { text-style: bold; width: 100%; }
    Dialog .body { width: 100%; color: $text-muted; }
    Dialog Label { padding-top: 1; }
    Dialog Input { width: 100%; background: $boost; }
    Dialog Horizontal { height: auto; align-horizontal: right; padding-top: 1; }
    Dialog Button { margin-left: 1; min-width: 10; }
    Dialog RadioSet { width: 100%; layout: horizontal; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    OK_LABEL = "OK"
    SUBMIT_FROM_ANY_FIELD = False  # Enter moves to the next field, submits from the last
    OK_VARIANT = "primary"

    def __init__(self, title: str, body: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.body_text = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            if self.body_text:
                yield Static(self.body_text, classes="body", markup=False)
            yield from self.fields()
            with Horizontal():
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(self.OK_LABEL, id="ok", variant=self.OK_VARIANT, compact=True)  # type: ignore[arg-type]

    def fields(self) -> ComposeResult:
        yield from ()

    def values(self) -> dict[str, Any] | None:
        """What to return on OK; None keeps the dialog open (e.g. a required field empty)."""
        return {}

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        if self.SUBMIT_FROM_ANY_FIELD or event.input is inputs[-1]:
            self.action_submit()
        else:
            inputs[inputs.index(event.input) + 1].focus()

    def action_submit(self) -> None:
        values = self.values()
        if values is not None:
            self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(Dialog):
    """Confirm a traffic change (pause/resume a warmup, remove/restore an IP); optional reason."""

    OK_VARIANT = "warning"

    def __init__(self, title: str, body: str, ok_label: str = "Confirm") -> None:
        super().__init__(title, body)
        self.ok_label = ok_label

    def fields(self) -> ComposeResult:
        yield Label("Reason (optional, goes to the audit log):")
        yield Input(placeholder="enter to confirm, escape to cancel", id="reason", compact=True)

    def on_mount(self) -> None:
        self.query_one("#ok", Button).label = self.ok_label
        self.query_one("#reason", Input).focus()

    def values(self) -> dict[str, Any]:
        return {"reason": self.query_one("#reason", Input).value.strip()}


class AckDialog(Dialog):
    """Acknowledge an alert: who (defaults to $USER) and an optional note."""

    OK_LABEL = "Acknowledge"
    SUBMIT_FROM_ANY_FIELD = True  # the note is optional: "a", a name, Enter acknowledges

    def fields(self) -> ComposeResult:
        yield Label("Acknowledged by:")
        yield Input(current_user(), id="who", compact=True)
        yield Label("Note (optional):")
        yield Input(placeholder="enter to acknowledge, escape to cancel", id="note", compact=True)

    def on_mount(self) -> None:
        # The typed name replaces the preselected $USER; tab reaches the optional note.
        who = self.query_one("#who", Input)
        who.focus()
        who.select_all()

    def values(self) -> dict[str, Any] | None:
        who = self.query_one("#who", Input).value.strip()
        if not who:
            self.notify("Say who acknowledges", severity="warning")
            self.query_one("#who", Input).focus()
            return None
        return {"who": who, "note": self.query_one("#note", Input).value.strip()}


class ResolveDialog(Dialog):
    """Resolve an alert, with a note for the history."""

    OK_LABEL = "Resolve"

    def fields(self) -> ComposeResult:
        yield Label("Note:")
        yield Input(
            placeholder="what was done; enter to resolve, escape to cancel", id="note", compact=True
        )

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def values(self) -> dict[str, Any]:
        return {"note": self.query_one("#note", Input).value.strip()}


class ExportDialog(Dialog):
    """Pick a format and a path; the path follows the format until the operator edits it."""

    OK_LABEL = "Export"

    def __init__(self, directory: Path, stamp: str, fmt: str = "json") -> None:
        super().__init__("Export a report", "Written readable by you only (mode 0600).")
        self.directory = directory
        self.stamp = stamp
        self.fmt = fmt
        self._auto_path = self._default_path(fmt)

    def _default_path(self, fmt: str) -> str:
        return str(self.directory / f"opsconsole-report-{self.stamp}.{EXTENSIONS[fmt]}")

    def fields(self) -> ComposeResult:
        yield Label("Format:")
        with RadioSet(id="format"):
            for f in FORMATS:
                yield RadioButton(f, value=f == self.fmt, name=f)
        yield Label("Path:")
        yield Input(self._auto_path, id="path", compact=True)

    def on_mount(self) -> None:
        self.query_one("#format", RadioSet).focus()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        fmt = event.pressed.name or "json"
        path = self.query_one("#path", Input)
        if path.value == self._auto_path:
            self._auto_path = self._default_path(fmt)
            path.value = self._auto_path
        self.fmt = fmt

    def values(self) -> dict[str, Any] | None:
        path = self.query_one("#path", Input).value.strip()
        if not path:
            self.notify("Give a path to write to", severity="warning")
            return None
        return {"format": self.fmt, "path": os.path.expanduser(path)}
