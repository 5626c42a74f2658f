"""``opsconsole status``: is the engine alive, is data flowing, are notifications going out."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._control import read

if TYPE_CHECKING:
    from opsconsole.core.config import EngineConfig
    from opsconsole.core.views import ReadStore

HELP = """Engine role and heartbeat, last check, sources and their freshness, notifier health.

\b
Examples:
  opsconsole status
  opsconsole status --json
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
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    from opsconsole.cli._common import settings_from

    data = read(ctx, collect, settings_from(ctx).db)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    c = Console()
    e = data["engine"]
    role = e["role"]
    colour = {"leader": "green", "none": "yellow"}.get(role, "white")
    c.print(f"database  {data['database']}")
    c.print(
        f"engine    [{colour}]{role}[/]"
        + (f" {e['holder']}, heartbeat {e['heartbeat_age_seconds']}s ago" if e["holder"] else "")
    )
    c.print(f"last check {e['last_check_at'] or 'never'}, every {e['check_interval_seconds']:g}s")
    t = Table(title="Sources", title_justify="left")
    for h in ("name", "format", "last event", "age", "lines", "malformed", "error"):
        t.add_column(h)
    for s in data["sources"]:
        age = "-" if s["age_seconds"] is None else f"{s['age_seconds']:.0f}s"
        style = "red" if s["error"] else ("yellow" if s["stale"] else "")
        t.add_row(s["name"], s["format"], s["last_event_at"] or "-", age, str(s["lines"]),
                  str(s["malformed"]), s["error"] or "", style=style)  # fmt: skip
    c.print(t)
    n = Table(title="Notifiers", title_justify="left")
    for h in ("name", "endpoint", "pending", "retrying", "failed", "last sent", "last error"):
        n.add_column(h)
    for x in data["notifiers"]:
        style = "red" if x["failed"] else ("yellow" if x["retrying"] else "")
        n.add_row(x["name"], x["endpoint"], str(x["pending"]), str(x["retrying"]), str(x["failed"]),
                  x["last_sent_at"] or "-", x["last_error"] or "", style=style)  # fmt: skip
    c.print(n)
    journal = data.get("journal")
    if journal and journal["open"]:
        j = Table(title="Journal (hooks, MTA applies)", title_justify="left")
        for h in ("id", "kind", "what", "state", "attempts", "last error"):
            j.add_column(h)
        for r in journal["open"]:
            p = r["payload"]
            what = f"{p.get('action', '')} {p.get('ip', '')}".strip() or p.get("reason", "")
            style = "red" if r["state"] == "failed" else "yellow"
            j.add_row(str(r["id"]), r["kind"], what, r["state"], str(r["attempts"]),
                      r["last_error"] or "", style=style)  # fmt: skip
        c.print(j)
