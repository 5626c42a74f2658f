"""``opsconsole status``: is the engine alive, is data flowing, are notifications going out."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._control import FormatOpt, JsonOpt, WideOpt, print_table, read

if TYPE_CHECKING:
    from opsconsole.core.config import EngineConfig
    from opsconsole.core.views import ReadStore

HELP = """Engine role and heartbeat, last check, sources and their freshness, notifier health.

\b
Examples:
  opsconsole status
  opsconsole status --format json --host mx1

Exit status: 0 healthy, 1 degraded or unhealthy (the leader's lease expired),
3 database unreachable (2 is a usage error). A DNSBL zone refused or failing
is degraded; a dead zone is a warning (exit 0). --format json lists every
check (healthy, warning, degraded, unhealthy, unconfigured) under "health".
"""


def register(app: typer.Typer) -> None:
    app.command("status", help=HELP)(status)


async def collect(store: ReadStore, config: EngineConfig, database: str) -> dict[str, Any]:
    from opsconsole.core.views import status as status_view

    data = await status_view(store, config, database)
    journal = getattr(store, "journal", None)
    if journal is not None:  # hooks and MTA applies not done yet, or given up on
        j = journal()
        data["journal"] = {"counts": await j.counts(), "open": await j.open_rows()}
    return data


def status(
    ctx: typer.Context,
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    host: Annotated[
        str | None, typer.Option("--host", help="Only this host of the fleet's sources.")
    ] = None,
) -> None:
    from opsconsole.cli._common import settings_from
    from opsconsole.cli._control import check_format
    from opsconsole.core.health import verdict
    from opsconsole.output import Column, clean

    fmt = check_format(fmt, as_json)
    from opsconsole.core.health import EXIT_CODES

    data = read(ctx, collect, settings_from(ctx).db)
    if host is not None:
        data["sources"] = [s for s in data["sources"] if s.get("host") == host]
        data["hosts"] = [h for h in data.get("hosts", []) if h["host"] == host]
    code = EXIT_CODES[data["health"]["state"]]  # issue 13.5: monitoring pages on it
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2, default=str))
        raise typer.Exit(code)
    state, reasons = verdict(data)
    e = data["engine"]
    if fmt == "table":  # what is wrong comes first
        typer.echo(f"{state}: {'; '.join(clean(r) for r in reasons)}" if reasons else state)
        holder = (
            f" {e['holder']}, heartbeat {e['heartbeat_age_seconds']}s ago" if e["holder"] else ""
        )
        typer.echo(f"database    {clean(data['database'])}")
        typer.echo(f"engine      {e['role']}{clean(holder)}")
        typer.echo(
            f"last check  {e['last_check_at'] or 'never'} (UTC),"
            f" every {e['check_interval_seconds']:g}s\n"
        )
    # A host column once the sources are several hosts' (each host's "mta" is its own row).
    fleet = len({s.get("host") for s in data["sources"]}) > 1
    sources = [
        [s["name"], *([s.get("host") or "-"] if fleet else []), s["format"],
         s["last_event_at"] or "-",
         "-" if s["age_seconds"] is None else f"{s['age_seconds']:.0f}s", str(s["lines"]),
         str(s["malformed"]), s["error"] or ""]
        for s in data["sources"]
    ]  # fmt: skip
    print_table(
        "Sources",
        [Column("name"), *([Column("host")] if fleet else []), Column("format", drop=2),
         Column("last event (UTC)"), Column("age", right=True), Column("lines", right=True),
         Column("malformed", right=True, drop=3), Column("error", drop=1)],
        sources, fmt=fmt, wide=wide, titled=fmt == "table",
    )  # fmt: skip
    notifiers = [
        [x["name"], x["endpoint"], str(x["pending"]), str(x["retrying"]), str(x["failed"]),
         x["last_sent_at"] or "-", x["last_error"] or ""]
        for x in data["notifiers"]
    ]  # fmt: skip
    print_table(
        "Notifiers",
        [Column("name"), Column("endpoint", drop=2), Column("pending", right=True),
         Column("retrying", right=True), Column("failed", right=True),
         Column("last sent (UTC)"), Column("last error", drop=1)],
        notifiers, fmt=fmt, wide=wide, titled=fmt == "table",
    )  # fmt: skip
    if data.get("reputation"):  # DNSBL zones and SNDS (docs/reputation.md)
        rep = [
            [r["zone"], r["state"], f"{r['failures']}/{r['lookups']}", r["checked_at"] or "-",
             r["last_ok_at"] or "-", r["reason"] or r["last_error"] or ""]
            for r in data["reputation"]
        ]  # fmt: skip
        print_table(
            "Reputation",
            [Column("zone"), Column("state"), Column("failed", right=True, drop=3),
             Column("checked (UTC)", drop=2), Column("last ok (UTC)", drop=2),
             Column("reason", drop=1)],
            rep, fmt=fmt, wide=wide, titled=fmt == "table",
        )  # fmt: skip
    journal = data.get("journal")
    if journal and journal["open"]:
        rows = []
        for r in journal["open"]:
            p = r["payload"]
            what = f"{p.get('action', '')} {p.get('ip', '')}".strip() or p.get("reason", "")
            rows.append([str(r["id"]), r["kind"], what, r["state"], str(r["attempts"]),
                         r["last_error"] or ""])  # fmt: skip
        print_table(
            "Journal (hooks, MTA applies)",
            [Column("id"), Column("kind"), Column("what", drop=2), Column("state"),
             Column("attempts", right=True), Column("last error", drop=1)],
            rows, fmt=fmt, wide=wide, titled=fmt == "table",
        )  # fmt: skip
    raise typer.Exit(code)
