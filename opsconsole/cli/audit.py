"""``opsconsole audit``: who did what, when and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import parse_since
from opsconsole.cli._control import FormatOpt, JsonOpt, WideOpt, check_format, print_table, read
from opsconsole.output import Column

if TYPE_CHECKING:
    from opsconsole.core.views import ReadStore


def register(app: typer.Typer) -> None:
    app.command(
        "audit",
        help="The audit log, newest first: every action of the engine and of operators.\n\n"
        "\b\nExamples:\n  opsconsole audit\n"
        "  opsconsole audit --since 2026-03-02 --ip 203.0.113.7\n  opsconsole audit --json",
    )(audit_cmd)


def audit_cmd(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="1h (ago) like --window, or an ISO 8601 time (UTC).", metavar="TIME"),
    ] = None,
    ip: Annotated[str | None, typer.Option(help="Only this IP.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 200,
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    import time

    from opsconsole.core.views import iso

    fmt = check_format(fmt, as_json)
    t_since = parse_since(since, "--since", time.time()) if since else None

    async def fetch(store: ReadStore, config: object) -> list[dict[str, Any]]:
        return await store.audit_entries(since=t_since, ip=ip, limit=limit)

    rows = read(ctx, fetch)
    for r in rows:
        r["at"] = iso(r["at"])
    print_table(
        "Audit", [Column("id"), Column("at (UTC)"), Column("who", drop=3), Column("action"),
                  Column("ip"), Column("pool", drop=2), Column("reason", drop=1)],
        [[r["id"], r["at"] or "", r["actor"], r["action"], r["ip"], r["pool"], r["reason"]]
         for r in rows],
        rows if fmt == "json" else None, fmt=fmt, wide=wide,
    )  # fmt: skip
