"""``opsconsole audit``: who did what, when and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import parse_time
from opsconsole.cli._control import print_table, read

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
    since: Annotated[str | None, typer.Option(help="ISO 8601 time or date.")] = None,
    ip: Annotated[str | None, typer.Option(help="Only this IP.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    from opsconsole.core.views import iso

    t_since = parse_time(since, "--since") if since else None

    async def fetch(store: ReadStore, config: object) -> list[dict[str, Any]]:
        return await store.audit_entries(since=t_since, ip=ip, limit=limit)

    rows = read(ctx, fetch)
    for r in rows:
        r["at"] = iso(r["at"])
    print_table(
        "Audit", ["at", "who", "action", "ip", "pool", "reason"],
        [[r["at"] or "", r["actor"], r["action"], r["ip"], r["pool"], r["reason"]] for r in rows],
        rows if as_json else None,
    )  # fmt: skip
