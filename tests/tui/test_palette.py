"""Issue 17.7: one colour per severity in 256 and in 16 colours, in the CLI and the console.

Colours are checked as the terminal gets them: a Rich console set to ``standard`` (16) or
``256`` colours renders each style to SGR codes, and the console's cells pass through
Textual's own ANSI-to-truecolor filter first (where ANSI red and magenta are one colour).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._ansi_theme import MONOKAI
from textual.color import Color as TColor
from textual.filter import ANSIToTruecolor

from opsconsole.core.stats import Severity
from opsconsole.styles import SEVERITY_STYLE, STATE_STYLE
from opsconsole.tui.app import OpsApp
from tests.tui.helpers import loaded

SEVERITIES = [s.label for s in Severity]
SYSTEMS = {"standard": ColorSystem.STANDARD, "256": ColorSystem.EIGHT_BIT}


def sgr_colour(style: str, system: str) -> str:
    """The foreground SGR a terminal with ``system`` colours receives for ``style``, as a
    Rich console with that colour system writes it (Rich caches a style's codes per style
    object, so the colour's own downgrade is used rather than one shared Console)."""
    colour = Style.parse(style).color
    assert colour is not None, style
    return ";".join(colour.downgrade(SYSTEMS[system]).get_ansi_codes(foreground=True))


def test_the_console_writes_what_the_palette_says() -> None:
    out = io.StringIO()
    Console(file=out, color_system="standard", force_terminal=True).print(
        Text("x", SEVERITY_STYLE["critical"] + " italic"), end=""
    )
    assert out.getvalue() == "\x1b[1;3;91mx\x1b[0m"


@pytest.mark.parametrize("system", SYSTEMS)
def test_each_severity_has_its_own_colour_in_the_cli(system: str) -> None:
    colours = {sev: sgr_colour(SEVERITY_STYLE[sev], system) for sev in SEVERITIES}
    assert len(set(colours.values())) == len(SEVERITIES), colours
    # and `removed` (a state) is not mistaken for a severity
    assert sgr_colour(STATE_STYLE["removed"], system) not in colours.values()
    if system == "standard":
        assert colours == {"insufficient": "37", "ok": "32", "warning": "93",
                           "critical": "91", "block": "31"}  # fmt: skip
    else:
        assert colours == {"insufficient": "38;5;244", "ok": "38;5;34", "warning": "38;5;220",
                           "critical": "38;5;208", "block": "38;5;160"}  # fmt: skip


def _as_terminal_gets_it(style: Style, system: ColorSystem) -> int | None:
    """Textual's filter (ANSI names -> its theme's RGB), then the terminal's downgrade."""
    background = TColor(12, 12, 12)
    seg = next(iter(ANSIToTruecolor(MONOKAI).apply([Segment("x", style)], background)))
    colour = seg.style.color if seg.style else None
    return None if colour is None else colour.downgrade(system).number


@pytest.mark.parametrize("system", SYSTEMS)
async def test_console_cells_keep_severities_apart(
    app_factory: Callable[..., OpsApp], system: str
) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 36)) as pilot:
        await loaded(pilot)
        table = app.main.panel("ips").table
        by_sev: dict[str, set[int | None]] = {}
        status: dict[str, set[int | None]] = {}
        for item in app.snapshot.report["ips"]:  # type: ignore[union-attr]
            row = table.get_row(f"{item['ip']}|")
            cols = list(table.columns)
            bounce = row[cols.index("bounce")]
            state = row[cols.index("status")]
            sev_c = _as_terminal_gets_it(Style.parse(str(bounce.style)), SYSTEMS[system])
            st_c = _as_terminal_gets_it(Style.parse(str(state.style)), SYSTEMS[system])
            by_sev.setdefault(item["severity"], set()).add(sev_c)
            status.setdefault(item["status"], set()).add(st_c)
    assert {"ok", "warning", "critical", "block"} <= set(by_sev)
    assert all(len(v) == 1 for v in by_sev.values()), by_sev
    colours = [next(iter(v)) for v in by_sev.values()]
    assert len(set(colours)) == len(colours), by_sev
    assert next(iter(status["removed"])) not in colours
