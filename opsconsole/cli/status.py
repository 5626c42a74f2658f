"""``opsconsole status``: is the engine alive, is data flowing, are notifications going out."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from opsconsole.cli._control import read

HELP = """Engine role and heartbeat, last check, sources and their freshness, notifier health.

\b
Examples:
  opsconsole status
  opsconsole status --json
"""


def register(app: typer.Typer) -> None:
    app.command("status", help=HELP)(status)


async def collect(engine: Any, settings: Any, now: float | None = None) -> dict[str, Any]:
    from opsconsole.report import engine_section, iso
    from opsconsole.settings import redact_url
    from opsconsole.storage import reads
    from opsconsole.storage.outbox import OutboxStore

    now = time.time() if now is None else now
    lease = await reads.read_lease(engine)
    eng = engine_section(lease, now, settings.monitor.check_interval)
    eng["heartbeat_age_seconds"] = round(now - lease["heartbeat_at"], 1) if lease else None
    sources = []
    for s in await reads.ingest_sources(engine):
        last = s["last_event_at"]
        sources.append({
            "name": s["name"], "format": s["format"], "path": s["path"],
            "last_event_at": iso(last),
            "age_seconds": round(now - last, 1) if last else None,
            "stale": bool(last and now - last > settings.monitor.stale_after),
            "lines": s["lines"], "malformed": s["malformed"], "error": s["error"],
        })  # fmt: skip
    outbox = await OutboxStore(engine).stats()
    endpoints = {n.label: redact_url(n.url.get_secret_value()) for n in settings.notify}
    notifiers = [
        {"name": name, "endpoint": endpoints.get(name.split("#")[0], ""),
         "pending": st.pending, "retrying": st.retrying, "failed": st.failed,
         "last_error": st.last_error, "last_sent_at": iso(st.last_sent_at)}
        for name, st in sorted(outbox.items())
    ]  # fmt: skip
    for name, url in endpoints.items():
        if not any(n["name"] == name for n in notifiers):
            notifiers.append({"name": name, "endpoint": url, "pending": 0, "retrying": 0,
                              "failed": 0, "last_error": None, "last_sent_at": None})  # fmt: skip
    return {"database": redact_url(settings.db), "engine": eng, "sources": sources,
            "notifiers": notifiers}  # fmt: skip


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    data = read(ctx, collect)
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
