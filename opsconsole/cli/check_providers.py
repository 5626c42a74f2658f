"""The per-provider part of ``opsconsole check IP``: the report's ``providers`` rows of one IP
over the monitor window (what the policy judges), with any suspension in force."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsconsole.core.config import EngineConfig
    from opsconsole.core.views import ReadStore


async def ip_providers(
    store: ReadStore, config: EngineConfig, ip: str, now: float, subuser: str | None = None
) -> list[dict[str, Any]]:
    from opsconsole.core.provider_views import providers_section
    from opsconsole.core.windows import window_bounds

    lo, hi = window_bounds(now, config.monitor.window)
    rows = await providers_section(store, config, lo, hi, now, ip)
    if subuser is not None:
        rows = [r for r in rows if r["subuser"] == subuser]
    return rows


def print_providers(ip: str, rows: list[dict[str, Any]], fmt: str, wide: bool) -> None:
    """A second table under the windows (table format only: csv stays one table)."""
    if fmt != "table":
        return
    from opsconsole.cli._control import print_table
    from opsconsole.output import Column
    from opsconsole.render import pct

    names = ("provider", "subuser", "sent", "bounced", "defer", "cmpl", "bounce")
    print_table(
        f"{ip} by provider",
        [Column(n, right=n not in ("provider", "subuser")) for n in names]
        + [Column("severity"), Column("suspended until", drop=1)],
        [
            [r["provider"], r["subuser"] or "", str(r["sent"]), str(r["bounced"]),
             str(r["deferred"]), str(r["complaints"]), pct(r["bounce_rate"]), r["severity"],
             r["suspended_until"] or ""]
            for r in rows
        ],
        fmt=fmt,
        wide=wide,
    )  # fmt: skip
