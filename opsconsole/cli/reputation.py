"""``opsconsole reputation [IP]``: DNSBL results, SNDS rows and zone health."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opsconsole.cli._common import fail
from opsconsole.cli._control import print_table, read

FORMATS = ("table", "json")


def register(app: typer.Typer) -> None:
    app.command(
        "reputation",
        help=(
            "Blocklist listings, Microsoft SNDS data and zone health per IP.\n\n\b\nExamples:\n"
            "  opsconsole reputation\n  opsconsole reputation 203.0.113.7 --format json"
        ),
    )(reputation)


def reputation(
    ctx: typer.Context,
    ip: Annotated[str | None, typer.Argument(help="Only this IP.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")

    async def fetch(store: Any, config: object) -> dict[str, Any]:
        from opsconsole.core.reputation.report import reputation_sections

        return await reputation_sections(store, ip)

    data = read(ctx, fetch)
    if fmt == "json":
        print_table("", [], [], data)
        return
    print_table(
        "Reputation",
        ["ip", "zone", "listed", "code", "meaning", "checked"],
        [
            [
                r["ip"],
                r["zone"],
                "refused" if r["refused"] else ("yes" if r["listed"] else "no"),
                r["code"] or "",
                r["meaning"] or (r["error"] or ""),
                r["checked_at"] or "",
            ]
            for r in data["reputation"]
        ],
    )
    if data["snds"]:
        print_table(
            "Microsoft SNDS",
            ["ip", "day", "filter", "complaints", "traps", "recipients"],
            [
                [
                    s["ip"],
                    s["day"],
                    s["filter"],
                    "" if s["complaint_rate"] is None else f"{s['complaint_rate']:.2%}",
                    str(s["trap_hits"]),
                    str(s["recipients"]),
                ]
                for s in data["snds"]
            ],
        )
    if data["reputation_health"]:
        print_table(
            "Zone health",
            ["zone", "state", "reason", "checked"],
            [
                [h["zone"], h["state"], h["reason"], h["checked_at"] or ""]
                for h in data["reputation_health"]
            ],
        )
