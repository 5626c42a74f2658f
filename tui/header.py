"""The top line: host, database, engine role, last check, events/s, and the FROZEN badge."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from opsconsole.core.redact import redact_url, sqlite_path
from opsconsole.styles import RED
from opsconsole.tui.cells import age

ROLE_STYLE = {
    "leader": "bold green",
    "follower": "bold yellow",
    "starting": "dim",
    "no engine": "dim",
    "failed": f"bold {RED}",
    "stopped": "dim",
}


def db_label(url: str, width: int = 40) -> str:
    """The database as an operator recognises it: a SQLite path (``~`` for home, the tail
    when long), or a server URL with credentials and database name hidden."""
    text = sqlite_path(url)
    if text is None:
        return redact_url(url)
    home = os.path.expanduser("~")
    if home not in ("", "/") and text.startswith(home + os.sep):
        text = "~" + text[len(home) :]
    if len(text) > width:
        text = "…" + text[-(width - 1) :]
    return text


@dataclass
class Status:
    host: str
    database: str
    role: str = "starting"
    last_check_age: float | None = None
    events_per_s: float | None = None
    frozen: bool = False
    filter: str = ""
    read_only: bool = False
    error: str = ""
    window: float | None = None  # seconds the numbers cover (the report's window)
    hosts: int = 0  # hosts of the fleet on this database (report "hosts")
    hosts_fresh: int = 0


def window_label(seconds: float | None) -> str:
    """``1h``, ``15m``, ``90s``, ``2d``: the window the panels' numbers cover."""
    if not seconds:
        return "-"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


class StatusBar(Static):
    """One line, rebuilt from a Status; cheap enough to redraw every second."""

    DEFAULT_CSS = """
    StatusBar { dock: top; height: 1; background: $panel; color: $text; }
    """

    def show(self, s: Status) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" opsconsole ", "bold reverse")
        # badges first, so a narrow terminal never cuts them off
        if s.frozen:
            t.append(" FROZEN ", "bold reverse red")
        if s.read_only:
            t.append(" READ-ONLY ", "bold reverse blue")
        t.append(f" {s.host} ", "bold")
        t.append("│ ", "dim")
        db = s.database
        room = 40 if self.size.width >= 110 or not self.size.width else 18
        if len(db) > room:
            db = "…" + db[-(room - 1) :]
        t.append(db, "")
        t.append(" │ ", "dim")
        t.append(s.role, ROLE_STYLE.get(s.role, "bold"))
        t.append(" │ ", "dim")
        t.append(f"window {window_label(s.window)}", "bold")
        t.append(" │ check ", "dim")
        t.append("never" if s.last_check_age is None else f"{age(s.last_check_age)} ago")
        t.append(" │ ", "dim")
        t.append("-" if s.events_per_s is None else f"{s.events_per_s:.1f}")
        t.append(" ev/s", "dim")
        if s.hosts:
            t.append(" │ hosts ", "dim")
            stale = s.hosts - s.hosts_fresh
            t.append(f"{s.hosts_fresh}/{s.hosts} fresh", "bold yellow" if stale else "")
        if s.error:
            t.append(f" {s.error}", f"bold {RED}")
        self.update(t)
