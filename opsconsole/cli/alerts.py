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
            Column("provider", drop=4),
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
                a.get("provider") or "",
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
    ip: Annotated[str, typer.Argument(help="An IP, or 'list', or 'delete'.")],
    key: Annotated[str | None, typer.Argument(help="delete: the silence key.")] = None,
    for_: Annotated[str | None, typer.Option("--for", help="Duration, e.g. 30m, 2h.")] = None,
    subuser: Annotated[str | None, typer.Option(help="Only this subuser.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule (default: all).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json (list).")] = "table",
) -> None:
    if ip == "list":
        _silence_list(ctx, fmt)
        return
    if ip == "delete":
        if not key:
            fail("silence delete needs the KEY shown by 'alerts silence list'")
        run_command(ctx, "alert.unsilence", {"key": key})
        return
    if not for_:
        fail("--for is required to silence an IP")
    from opsconsole.cli._common import check_ip
    from opsconsole.core.alerts import RULES

    ip = check_ip(ip)
    if rule is not None and rule not in RULES:
        fail(f"--rule: unknown alert rule {rule!r} (known: {', '.join(sorted(RULES))})")
    seconds = parse_window(for_, "--for")
    run_command(
        ctx, "alert.silence", {"ip": ip, "subuser": subuser, "seconds": seconds, "rule": rule}
    )


def _silence_list(ctx: typer.Context, fmt: str) -> None:
    import time

    async def fetch(store: Any, config: object) -> list[dict[str, Any]]:
        from opsconsole.core.views import silences

        return await silences(store, time.time())

    rows = read(ctx, fetch)
    print_table(
        "Silences",
        ["key", "ip", "rule", "until", "actor"],
        [[r["key"], r["ip"], r["rule"], r["until"], r["actor"]] for r in rows],
        rows if fmt == "json" else None,
    )


@alerts_app.command(
    "notifications",
    help=(
        "Notices in the outbox, newest first: sent, pending, retrying, failed.\n\n\b\n"
        "Examples:\n  opsconsole alerts notifications --failed\n"
        "  opsconsole alerts notifications --format json"
    ),
)
def notifications(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Only given-up notices.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    from opsconsole.core.notify.payload import iso_millis

    if fmt not in ("table", "json"):
        fail(f"--format must be table or json, not {fmt!r}")

    async def fetch(store: Any, config: object) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await store.outbox().rows(failed_only=failed)
        for r in rows:
            for k in ("created_at", "sent_at", "next_attempt_at"):
                r[k] = iso_millis(r[k]) if r[k] is not None else None
        return rows

    rows = read(ctx, fetch)
    print_table(
        "Notifications",
        ["id", "notifier", "notice", "state", "status", "attempts", "last error"],
        [
            [
                str(r["id"]),
                r["notifier"],
                r["notice_id"] or "",
                r["state"] or "",
                r["status"],
                str(r["attempts"]),
                r["last_error"] or "",
            ]
            for r in rows
        ],
        rows if fmt == "json" else None,
    )


@alerts_app.command(
    "retry",
    help=(
        "Send given-up notices again (after fixing the endpoint).\n\n\b\nExamples:\n"
        "  opsconsole alerts retry 42\n  opsconsole alerts retry --all"
    ),
)
def retry(
    ctx: typer.Context,
    notice: Annotated[int | None, typer.Argument(metavar="ID", help="Outbox row id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every failed notice.")] = False,
) -> None:
    import time

    if (notice is None) == (not all_):
        fail("give one ID or --all")

    async def go(store: Any, config: object) -> int:
        outbox = store.outbox()
        if all_:
            return int(await outbox.retry_failed(time.time()))
        return int(await outbox.retry([notice], time.time()))

    n = read(ctx, go)
    if notice is not None and n == 0:
        fail(f"no failed notice with id {notice}")
    typer.echo(f"{n} notice(s) queued again")
