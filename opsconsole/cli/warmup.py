"""``opsconsole warmup list|start|pause|resume|advance|rollback|history``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import check_ip
from opsconsole.cli._control import (
    FormatOpt,
    JsonOpt,
    WideOpt,
    check_format,
    print_table,
    read,
    run_command,
)
from opsconsole.output import Column

if TYPE_CHECKING:
    from opsconsole.core.config import EngineConfig
    from opsconsole.core.views import ReadStore

warmup_app = typer.Typer(
    help="Warmup plans of new IPs.\n\n\b\nExamples:\n  opsconsole warmup list\n"
    "  opsconsole warmup start 198.51.100.20 --schedule six-week --pool bulk\n"
    "  opsconsole warmup pause 198.51.100.20 --reason 'yahoo deferrals'\n"
    "  opsconsole warmup resume 198.51.100.20\n  opsconsole warmup history 198.51.100.20 --days 14",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(warmup_app, name="warmup")


@warmup_app.command(
    "list",
    help=(
        "Every plan: stage, day, quota and sent today, state.\n\n\b\nExample:\n"
        "  opsconsole warmup list --json"
    ),
)
def list_(
    ctx: typer.Context,
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    from opsconsole.core.views import build_report

    fmt = check_format(fmt, as_json)

    async def fetch(store: ReadStore, config: EngineConfig) -> list[dict[str, Any]]:
        return list((await build_report(store, config))["warmups"])

    plans = read(ctx, fetch)
    rows = [
        [w["ip"], w["pool"] or "", w["schedule"], f"{w['stage']}/{w['stages_total']}",
         str(w["day"]), f"{w['sent_today']}/{w['daily_quota']}", w["state"],
         w["state_reason"] or "", w["next_change_at"] or ""]
        for w in plans
    ]  # fmt: skip
    print_table(
        "Warmups",
        [
            Column("ip"),
            Column("pool", drop=3),
            Column("schedule", drop=4),
            Column("stage"),
            Column("day", right=True),
            Column("sent/quota"),
            Column("state"),
            Column("reason", drop=1),
            Column("next change (UTC)"),
        ],
        rows,
        plans if fmt == "json" else None,
        fmt=fmt,
        wide=wide,
    )


@warmup_app.command(
    "start",
    help=(
        "Start a plan for an IP (joins --pool as warming).\n\n\b\nExample:\n"
        "  opsconsole warmup start 198.51.100.20 --schedule six-week --pool bulk"
    ),
)
def start(
    ctx: typer.Context,
    ip: str,
    schedule: Annotated[
        str | None, typer.Option(help="six-week, daily-40 or a custom one.")
    ] = None,
    pool: Annotated[str | None, typer.Option(help="Pool the IP warms in.")] = None,
    create: Annotated[bool, typer.Option("--create", help="Create --pool if it is new.")] = False,
) -> None:
    args = {"ip": check_ip(ip), "schedule": schedule, "pool": pool, "create": create}
    run_command(ctx, "warmup.start", args)


@warmup_app.command(
    "pause",
    help=(
        "Pause a plan (no stage advancement until resumed).\n\n\b\nExample:\n"
        "  opsconsole warmup pause 198.51.100.20 --reason 'yahoo deferrals'"
    ),
)
def pause(
    ctx: typer.Context,
    ip: str,
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
) -> None:
    run_command(ctx, "warmup.pause", {"ip": check_ip(ip), "reason": reason})


@warmup_app.command(
    "resume",
    help=(
        "Resume a paused or held plan.\n\n\b\nExample:\n  opsconsole warmup resume 198.51.100.20"
    ),
)
def resume(ctx: typer.Context, ip: str) -> None:
    run_command(ctx, "warmup.resume", {"ip": check_ip(ip)})


@warmup_app.command(
    "advance",
    help=(
        "Move a plan one stage forward now.\n\n\b\nExample:\n"
        "  opsconsole warmup advance 198.51.100.20"
    ),
)
def advance(ctx: typer.Context, ip: str) -> None:
    run_command(ctx, "warmup.advance", {"ip": check_ip(ip)})


@warmup_app.command(
    "rollback",
    help=(
        "Move a plan one stage back.\n\n\b\nExample:\n  opsconsole warmup rollback 198.51.100.20"
    ),
)
def rollback(ctx: typer.Context, ip: str) -> None:
    run_command(ctx, "warmup.rollback", {"ip": check_ip(ip)})


@warmup_app.command(
    "history",
    help=(
        "Sent and bounced per day, and the plan's actions.\n\n\b\nExample:\n"
        "  opsconsole warmup history 198.51.100.20 --days 14"
    ),
)
def history(
    ctx: typer.Context,
    ip: str,
    days: Annotated[int, typer.Option(min=1, max=365, help="How many days back.")] = 7,
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    from opsconsole.core.notify.payload import iso_millis
    from opsconsole.core.views import iso
    from opsconsole.render import pct

    async def fetch(store: ReadStore, config: EngineConfig) -> tuple[list[dict[str, Any]], Any]:
        today = int(time.time()) // 86400 * 86400
        out: list[dict[str, Any]] = []
        for d in range(days - 1, -1, -1):
            lo = today - d * 86400
            s = await store.ip_window_stats(ip, lo, lo + 86400)
            out.append({"day": iso_millis(lo)[:10], "sent": s.sent, "bounced": s.bounced,
                        "bounce_rate": s.bounce_rate, "complaints": s.complaints})  # fmt: skip
        entries = await store.audit_entries(since=today - days * 86400, ip=ip)
        return out, entries

    fmt = check_format(fmt, as_json)
    ip = check_ip(ip)
    per_day, entries = read(ctx, fetch)
    if fmt == "json":
        print_table("", [], [], {"ip": ip, "days": per_day, "actions": entries})
        return
    print_table(
        f"{ip}: last {days} days (UTC)", ["day", "sent", "bounced", "bounce", "complaints"],
        [[r["day"], str(r["sent"]), str(r["bounced"]), pct(r["bounce_rate"]),
          str(r["complaints"])] for r in per_day], fmt=fmt, wide=wide, titled=fmt == "table",
    )  # fmt: skip
    print_table(
        "Actions", [Column("at (UTC)"), Column("who", drop=2), Column("action"),
                    Column("reason", drop=1)],
        [[iso(e["at"]) or "", e["actor"], e["action"], e["reason"]] for e in entries],
        fmt=fmt, wide=wide, titled=fmt == "table",
    )  # fmt: skip


@warmup_app.command(
    "cancel",
    help=(
        "Cancel an IP's plan (audited); it leaves the pools it was warming in.\n\n\b\n"
        "Example:\n  opsconsole warmup cancel 198.51.100.20 --reason 'IP returned'"
    ),
)
def cancel(
    ctx: typer.Context,
    ip: str,
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
) -> None:
    run_command(ctx, "warmup.cancel", {"ip": check_ip(ip), "reason": reason})
