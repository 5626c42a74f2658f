"""The first screen that helps: on a database with nothing in it (no traffic, pools, warmups
or alerts), say what to do next instead of showing four empty tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Static

from opsconsole.styles import GREY


def is_empty(report: dict[str, Any]) -> bool:
    return not (report["ips"] or report["warmups"] or report["pools"] or report["alerts"])


def next_steps(config_path: Path | None, has_sources: bool) -> Text:
    t = Text()
    t.append("Nothing here yet: ", "bold")
    t.append("this database has no traffic, pools, warmups or alerts. Next:\n")
    t.append("  opsconsole --demo", "bold")
    t.append("   see it work on simulated traffic (its own database)\n", GREY)
    if not has_sources:
        where = str(config_path) if config_path else "~/.config/opsconsole/config.toml"
        t.append(f"  write {where}", "bold")
        t.append("   [[sources]] format + path, [[pools]]; then ", GREY)
        t.append("opsconsole config check\n", "bold")
    else:
        t.append("  sources are configured: ", GREY)
        t.append("waiting for their first lines\n")
    t.append("  opsconsole ingest FILE --format pmta|postfix|kumo|jsonl", "bold")
    t.append("   load a log once", GREY)
    return t


class Welcome(Static):
    DEFAULT_CSS = """
    Welcome { display: none; height: auto; border: round $accent; padding: 0 1; margin: 1 1; }
    Welcome.shown { display: block; }
    """
