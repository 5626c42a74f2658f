"""One IP's bounce series for the IP detail's timeline (the sparkline read groups every IP)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def ip_rate_series(
    engine: AsyncEngine, ip: str, lo: int, hi: int, step: int
) -> list[tuple[int, int]]:
    """(sent, bounced) per ``step``-second slot over bucket minutes [lo, hi) of one IP."""
    sql = text(
        "SELECT (minute - :lo) / :step AS slot, sum(delivered + bounced), sum(bounced)"
        " FROM bucket WHERE ip = :ip AND minute >= :lo AND minute < :hi GROUP BY slot"
    )
    slots = max(1, (hi - lo) // step)
    out = [(0, 0)] * slots
    async with engine.connect() as conn:
        params = {"ip": ip, "lo": lo, "hi": hi, "step": step}
        for slot, sent, bounced in await conn.execute(sql, params):
            if 0 <= int(slot) < slots:
                out[int(slot)] = (int(sent or 0), int(bounced or 0))
    return out
