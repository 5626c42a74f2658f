"""``opsconsole pools list|add|remove|restore|weight``."""

from __future__ import annotations

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
    from opsconsole.core.views import ReadStore

pools_app = typer.Typer(
    help="Rotation pools: members, weights, removal and restore.\n\n\b\nExamples:\n"
    "  opsconsole pools list\n  opsconsole pools add bulk 203.0.113.9 --weight 50\n"
    "  opsconsole pools remove bulk 203.0.113.9\n  opsconsole pools restore bulk 203.0.113.9\n"
    "  opsconsole pools weight bulk 203.0.113.9 80",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(pools_app, name="pools")


@pools_app.command(
    "list",
    help=(
        "Every pool with its members, weights and state.\n\n\b\nExample:\n"
        "  opsconsole pools list --json"
    ),
)
def list_(
    ctx: typer.Context,
    fmt: FormatOpt = "table",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    from opsconsole.core.views import pools_section

    fmt = check_format(fmt, as_json)

    async def fetch(store: ReadStore, config: object) -> list[dict[str, Any]]:
        return pools_section(await store.members(), await store.plans())

    pools = read(ctx, fetch)
    rows = [
        [p["name"], m["ip"], f"{m['weight']:g}", f"{m['base_weight']:g}", m["state"],
         str(p["daily_capacity"])]
        for p in pools for m in p["members"]
    ]  # fmt: skip
    print_table(
        "Pools", [Column("pool", fold=True), Column("ip"), Column("weight", right=True),
                  Column("base", drop=1, right=True), Column("state"),
                  Column("capacity/day", drop=2, right=True)], rows,
        pools if fmt == "json" else None, fmt=fmt, wide=wide,
    )  # fmt: skip


@pools_app.command(
    "add",
    help=(
        "Add an IP to a pool (a new pool needs --create).\n\n\b\nExample:\n"
        "  opsconsole pools add bulk 203.0.113.9 --weight 50 --daily-cap 100000"
    ),
)
def add(
    ctx: typer.Context,
    pool: str,
    ip: str,
    weight: Annotated[float, typer.Option(min=0, help="Base weight.")] = 100,
    daily_cap: Annotated[int | None, typer.Option(min=0, help="Daily cap, for capacity.")] = None,
    create: Annotated[bool, typer.Option("--create", help="Create POOL if it is new.")] = False,
) -> None:
    args = {"pool": pool, "ip": check_ip(ip), "weight": weight, "daily_cap": daily_cap}
    run_command(ctx, "pool.add", {**args, "create": create})


@pools_app.command(
    "remove",
    help=(
        "Take an IP out of rotation (asks nothing: scripts use it).\n\n\b\nExample:\n"
        "  opsconsole pools remove bulk 203.0.113.9 --reason 'spamhaus listing'"
    ),
)
def remove(
    ctx: typer.Context,
    pool: str,
    ip: str,
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
) -> None:
    run_command(ctx, "pool.remove", {"pool": pool, "ip": check_ip(ip), "reason": reason})


@pools_app.command(
    "restore",
    help=(
        "Put a removed or deprioritized IP back at its base weight.\n\n\b\nExample:\n"
        "  opsconsole pools restore bulk 203.0.113.9"
    ),
)
def restore(ctx: typer.Context, pool: str, ip: str) -> None:
    run_command(ctx, "pool.restore", {"pool": pool, "ip": check_ip(ip)})


@pools_app.command(
    "weight",
    help=(
        "Set an IP's base weight in a pool.\n\n\b\nExample:\n"
        "  opsconsole pools weight bulk 203.0.113.9 80"
    ),
)
def weight(
    ctx: typer.Context, pool: str, ip: str, w: Annotated[float, typer.Argument(min=0, metavar="W")]
) -> None:
    run_command(ctx, "pool.weight", {"pool": pool, "ip": check_ip(ip), "weight": w})


@pools_app.command(
    "apply",
    help=(
        "Write the pools' desired state to the MTA ([mta]); --dry-run prints the plan.\n\n\b\n"
        "Example:\n  opsconsole pools apply --dry-run"
    ),
)
def apply(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the plan.")] = False,
) -> None:
    from opsconsole.cli.mta import apply_pools, plan_lines

    if dry_run:
        for line in read(ctx, plan_lines, create=True):
            typer.echo(line)
        return
    typer.echo(read(ctx, apply_pools, create=True))


@pools_app.command(
    "delete",
    help=(
        "Delete a pool (refused while it has members, unless --force).\n\n\b\nExample:\n"
        "  opsconsole pools delete old-bulk"
    ),
)
def delete(
    ctx: typer.Context,
    pool: str,
    force: Annotated[bool, typer.Option("--force", help="Delete it with its members.")] = False,
) -> None:
    run_command(ctx, "pool.delete", {"pool": pool, "force": force})
