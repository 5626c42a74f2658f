"""``opsconsole check IP``: one IP's windows and severity."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import fail, parse_window
from opsconsole.cli._control import FormatOpt, JsonOpt, WideOpt
from opsconsole.errors import ExitCode

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
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    host: Annotated[
        str | None, typer.Option("--host", help="Fail unless this host of the fleet reads IP.")
    ] = None,
) -> None:
    import ipaddress

    from opsconsole.cli._control import check_format, read

    fmt = check_format(fmt, as_json)
    from opsconsole.core.views import DEFAULT_WINDOWS, ip_windows

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        fail(f"not an IP address: {ip!r}")
    windows = list(DEFAULT_WINDOWS)
    if window:
        windows.append((window, parse_window(window)))

    async def fetch(store: ReadStore, config: EngineConfig) -> tuple[list[Any], list[str]]:
        from opsconsole.core.fleet import hosts_of_ip

        rows = await ip_windows(store, config, ip, time.time(), windows, subuser)
        provs[:] = await ip_providers(store, config, ip, time.time(), subuser)
        return rows, await hosts_of_ip(store, ip)

    from opsconsole.cli.check_providers import ip_providers, print_providers

    provs: list[dict[str, Any]] = []
    rows, hosts = read(ctx, fetch)
    if host is not None and host not in hosts:
        fail(
            f"{ip} is not read by host {host!r} (read by: {', '.join(hosts) or 'no host'})",
            ExitCode.RUNTIME,
        )
    if fmt == "json":
        out = {"ip": ip, "subuser": subuser, "hosts": hosts, "windows": rows, "providers": provs}
        typer.echo(json.dumps(out, indent=2))
        return
    from opsconsole.cli._control import print_table
    from opsconsole.output import Column
    from opsconsole.render import pct

    # Fits 80 columns with nothing cut (delivered = sent - bounced is in --format json).
    names = ("window", "sent", "bounced", "hard", "soft", "defer", "cmpl", "bounce", "cmpl %")
    print_table(
        f"{ip}" + (f" (subuser {subuser})" if subuser else "")
        + (f" read by {', '.join(hosts)}" if hosts else ""),
        [Column(n, right=n != "window") for n in names] + [Column("severity")],
        [
            [r["window"], str(r["sent"]), str(r["bounced"]), str(r["hard_bounced"]),
             str(r["soft_bounced"]), str(r["deferred"]), str(r["complaints"]),
             pct(r["bounce_rate"]), pct(r["complaint_rate"]), r["severity"]]
            for r in rows
        ],
        fmt=fmt,
        wide=wide,
    )  # fmt: skip
    print_providers(ip, provs, fmt, wide)
