"""What each severity and state looks like on a terminal: one meaning, one colour, everywhere
(CLI tables and the console read these).

Colours are explicit RGB, chosen so that each severity keeps its own colour after the
terminal's downgrade: truecolor, 256 colours (244/34/220/208/160) and 16 colours
(white/green/bright yellow/bright red/red). ANSI names ("red", "yellow") are avoided on
purpose: Textual maps them through its theme, where red and magenta are one colour and
yellow is orange, so warning, critical, block and ``removed`` ran together.
"""

from __future__ import annotations

from opsconsole.core.stats import Severity

GREY = "#808080"  # 256: 244, 16: white (7)
GREEN = "#00af00"  # 256: 34, 16: green (2)
YELLOW = "#ffd700"  # 256: 220, 16: bright yellow (11)
ORANGE = "#ff8700"  # 256: 208, 16: bright red (9)
RED = "#d70000"  # 256: 160, 16: red (1)
PURPLE = "#af00ff"  # 256: 129, 16: magenta (5): removed / paused, never a severity
CYAN = "#00afff"  # 256: 39, 16: cyan (6): info, warming, progress

SEVERITY_COLOR = {
    Severity.INSUFFICIENT.label: GREY,
    Severity.OK.label: GREEN,
    Severity.WARNING.label: YELLOW,
    Severity.CRITICAL.label: ORANGE,
    Severity.BLOCK.label: RED,
}
SEVERITY_STYLE = {
    Severity.INSUFFICIENT.label: GREY,
    Severity.OK.label: GREEN,
    Severity.WARNING.label: YELLOW,
    Severity.CRITICAL.label: f"bold {ORANGE}",
    Severity.BLOCK.label: f"bold {RED}",
}
# Alert severities use the same colours as the policy severities they come from.
ALERT_SEVERITY_STYLE = {
    "info": CYAN,
    "warning": SEVERITY_STYLE[Severity.WARNING.label],
    "critical": SEVERITY_STYLE[Severity.CRITICAL.label],
    "block": SEVERITY_STYLE[Severity.BLOCK.label],
}
SEVERITY_MEANING = {
    Severity.INSUFFICIENT.label: "fewer than min_sample sent: not judged",
    Severity.OK.label: "below the warning threshold",
    Severity.WARNING.label: "at or above warning",
    Severity.CRITICAL.label: "at or above critical: deprioritized",
    Severity.BLOCK.label: "at or above block: removed from rotation",
}
# Pool member / warmup / alert states.
STATE_STYLE = {
    "active": GREEN,
    "completed": GREEN,
    "warming": CYAN,
    "deprioritized": YELLOW,
    "held": YELLOW,
    "paused": PURPLE,
    "removed": f"bold {PURPLE}",
    "failed": f"bold {RED}",
    "unpooled": GREY,
    "firing": f"bold {RED}",
    "acknowledged": YELLOW,
    "resolved": GREY,
}
RISING = "bold"  # trend arrow, rate going up: no severity colour (the rate cell has one)
FALLING = GREEN
