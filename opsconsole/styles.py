"""What each severity looks like on a terminal: one meaning, one colour, everywhere."""

from __future__ import annotations

from opsconsole.core.stats import Severity

SEVERITY_STYLE = {
    Severity.INSUFFICIENT.label: "dim",
    Severity.OK.label: "green",
    Severity.WARNING.label: "yellow",
    Severity.CRITICAL.label: "dark_orange",
    Severity.BLOCK.label: "bold red",
}
