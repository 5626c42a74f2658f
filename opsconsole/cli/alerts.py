"""``opsconsole alerts list|ack|resolve|silence``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import fail, parse_window
from opsconsole.cli._control import (
    FormatOpt,
    JsonOpt,
    WideOpt,
    check_format,
    operator,
    print_table,
    read,
    run_command,
)
from opsconsole.output import Column

if TYPE_CHECKING:
    from opsconsole.core.views import ReadStore

alerts_app = typer.Typer(
    help="List, acknowledge, resolve and silence alerts.\n\n\b\nExamples:\n"
    "  opsconsole alerts list\n  opsconsole alerts list --state all --json\n"
    "  opsconsole alerts ack 3f2a9c1b7d20 --by alice --note 'looking at yahoo blocks'\n"
    "  opsconsole alerts resolve 3f2a9c1b7d20 --note 'list cleaned'\n"
    "  opsconsole alerts silence 203.0.113.7 --for 2h",
    no_args_is_help=True,
)
STATES = ("firing", "acknowledged", "resolved", "all", "open")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command(
    "list",
    help=(
        "Alerts, newest first (default: open ones).\n\n\b\nExamples:\n"
        "  opsconsole alerts list\n  opsconsole alerts list --state all --json"
    ),
)
def list_(
    ctx: typer.Context,
    state: Annotated[
        str, typer.Option(help="firing, acknowledged, resolved, open or all.")
    ] = "open",
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    from opsconsole.core.views import alert_row

    fmt = check_format(fmt, as_json)
    if state not in STATES:
        fail(f"--state must be one of {', '.join(STATES)}, not {state!r}")

    async def fetch(store: ReadStore, config: object) -> list[dict[str, Any]]:
        rows = await store.alerts(None if state in ("all", "open") else state, limit=1000)
        if state == "open":
            rows = [r for r in rows if r["state"] != "resolved"]
        return [alert_row(r) for r in rows]

    rows = read(ctx, fetch)
    print_table(
        "Alerts",
        [
            Column("id"),
            Column("severity"),
            Column("state"),
            Column("title", drop=1),
            Column("ip"),
            Column("subuser", drop=3),
            Column("opened (UTC)"),
            Column("acked by", drop=2),
        ],
        [
            [
                a["id"],
                a["severity"],
                a["state"],
                a["title"],
                a["ip"] or "",
                a["subuser"] or "",
                a["opened_at"] or "",
                a["acknowledged_by"] or "",
            ]
            for a in rows
        ],
        rows if fmt == "json" else None,
        fmt=fmt,
        wide=wide,
    )


@alerts_app.command(
    "ack",
    help=(
        "Acknowledge: stops re-notification, keeps the alert open.\n\n\b\nExample:\n"
        "  opsconsole alerts ack 3f2a9c1b7d20 --by alice --note 'yahoo blocks'"
    ),
)
def ack(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str | None, typer.Option(help="Who acknowledges (default $USER).")] = None,
    note: Annotated[str, typer.Option(help="Optional note.")] = "",
) -> None:
    run_command(ctx, "alert.ack", {"id": alert_id, "note": note}, actor=by or operator())


@alerts_app.command(
    "resolve",
    help=(
        "Resolve an open alert by hand, with a note.\n\n\b\nExample:\n"
        "  opsconsole alerts resolve 3f2a9c1b7d20 --note 'list cleaned'"
    ),
)
def resolve(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(metavar="ID")],
    note: Annotated[str, typer.Option(help="Why it is resolved.")] = "",
    by: Annotated[str | None, typer.Option(help="Who resolves (default $USER).")] = None,
) -> None:
    run_command(ctx, "alert.resolve", {"id": alert_id, "note": note}, actor=by or operator())


@alerts_app.command(
    "silence",
    help=(
        "Mute notifications for an IP (or IP+subuser) for a while.\n\n\b\nExample:\n"
        "  opsconsole alerts silence 203.0.113.7 --subuser vmta1 --for 2h"
    ),
)
def silence(
    ctx: typer.Context,
    ip: Annotated[str, typer.Argument()],
    for_: Annotated[str, typer.Option("--for", help="Duration, e.g. 30m, 2h, 1d.")],
    subuser: Annotated[str | None, typer.Option(help="Only this subuser.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule (default: all).")] = None,
) -> None:
    from opsconsole.cli._common import check_ip
    from opsconsole.core.alerts import RULES

    ip = check_ip(ip)
    if rule is not None and rule not in RULES:
        fail(f"--rule: unknown alert rule {rule!r} (known: {', '.join(sorted(RULES))})")
    seconds = parse_window(for_, "--for")
    run_command(
        ctx, "alert.silence", {"ip": ip, "subuser": subuser, "seconds": seconds, "rule": rule}
    )
