"""``opsconsole check IP``: one IP's windows and severity."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import fail, parse_window

if TYPE_CHECKING:
    from opsconsole.core.config import EngineConfig
    from opsconsole.core.views import ReadStore

HELP = """Show one IP's counts and rates over 15m, 1h and 24h, and its severity.

\b
Examples:
  opsconsole check 203.0.113.7
  opsconsole check 203.0.113.7 --subuser vmta1 --window 6h
  opsconsole check 203.0.113.7 --json
"""


def register(app: typer.Typer) -> None:
    app.command("check", help=HELP)(check)


def check(
    ctx: typer.Context,
    ip: Annotated[str, typer.Argument(help="Sending IP.")],
    subuser: Annotated[str | None, typer.Option(help="Only this subuser (vmta, tenant).")] = None,
    window: Annotated[str | None, typer.Option(help="An extra window, e.g. 6h.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    import ipaddress

    from opsconsole.cli._control import read
    from opsconsole.core.views import DEFAULT_WINDOWS, ip_windows

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        fail(f"not an IP address: {ip!r}")
    windows = list(DEFAULT_WINDOWS)
    if window:
        windows.append((window, parse_window(window)))

    async def fetch(store: ReadStore, config: EngineConfig) -> list[dict[str, Any]]:
        return await ip_windows(store, config, ip, time.time(), windows, subuser)

    rows = read(ctx, fetch)
    if as_json:
        typer.echo(json.dumps({"ip": ip, "subuser": subuser, "windows": rows}, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from opsconsole.render import pct
    from opsconsole.styles import SEVERITY_STYLE

    # Fits 80 columns over SSH with nothing cut (delivered = sent - bounced is in --json).
    table = Table(
        title=f"{ip}" + (f" (subuser {subuser})" if subuser else ""), title_justify="left",
        box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
    )  # fmt: skip
    for h in ("window", "sent", "bounced", "hard", "soft", "defer", "cmpl", "bounce",
              "cmpl %", "severity"):  # fmt: skip
        table.add_column(h, justify="left" if h in ("window", "severity") else "right",
                         no_wrap=True)  # fmt: skip
    for r in rows:
        table.add_row(
            r["window"], str(r["sent"]), str(r["bounced"]),
            str(r["hard_bounced"]), str(r["soft_bounced"]), str(r["deferred"]),
            str(r["complaints"]), pct(r["bounce_rate"]), pct(r["complaint_rate"]),
            r["severity"], style=SEVERITY_STYLE.get(r["severity"], ""),
        )  # fmt: skip
    Console().print(table)
