"""Read side: window statistics from the buckets, and the rows views and reports show."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core import warmup
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import WindowStats
from opsconsole.core.warmup import PlanState
from opsconsole.core.windows import minute_floor
from opsconsole.storage import engine_store
from opsconsole.storage.tables import Alert, Lease, table_of

ENGINE_LEASE = "engine"
Key = tuple[str, str]  # (ip, subuser) with '' for none


_WINDOW_SQL = text(
    "SELECT ip, subuser, sum(delivered), sum(bounced), sum(hard), sum(soft), sum(deferred),"
    " sum(complaints) FROM bucket WHERE minute >= :lo AND minute < :hi GROUP BY ip, subuser"
)


async def window_stats(engine: AsyncEngine, lo: int, hi: int) -> dict[Key, WindowStats]:
    """Counters per (ip, subuser) over bucket minutes [lo, hi); ip '' = unattributed."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_WINDOW_SQL, {"lo": lo, "hi": hi})).all()
    return {(r[0], r[1]): WindowStats(*(int(v or 0) for v in r[2:])) for r in rows}


async def ip_window_stats(
    engine: AsyncEngine, ip: str, lo: int, hi: int, subuser: str | None = None
) -> WindowStats:
    sql = (
        "SELECT sum(delivered), sum(bounced), sum(hard), sum(soft), sum(deferred),"
        " sum(complaints) FROM bucket WHERE ip = :ip AND minute >= :lo AND minute < :hi"
    )
    params: dict[str, Any] = {"ip": ip, "lo": lo, "hi": hi}
    if subuser is not None:
        sql += " AND subuser = :su"
        params["su"] = subuser
    async with engine.connect() as conn:
        row = (await conn.execute(text(sql), params)).first()
    return WindowStats(*(int(v or 0) for v in (row or (0,) * 6)))


async def ip_series(
    engine: AsyncEngine, lo: int, hi: int, step: int, ips: Sequence[str] | None = None
) -> dict[str, list[tuple[int, int]]]:
    """Per IP, (sent, bounced) per ``step``-second slot over [lo, hi): for sparklines and
    the IP detail's timeline; with ``ips``, those IPs only (the rows a console shows)."""
    head = (
        "SELECT ip, (minute - :lo) / :step AS slot, sum(delivered + bounced), sum(bounced)"
        " FROM bucket WHERE minute >= :lo AND minute < :hi"
    )
    base: dict[str, Any] = {"lo": lo, "hi": hi, "step": step}
    if ips is None:
        queries = [(head + " AND ip != '' GROUP BY ip, slot", base)]
    else:
        queries = []
        for i in range(0, len(ips), 500):  # bounded IN lists
            part = list(ips[i : i + 500])
            names = ", ".join(f":p{j}" for j in range(len(part)))
            params = base | {f"p{j}": ip for j, ip in enumerate(part)}
            queries.append((head + f" AND ip IN ({names}) GROUP BY ip, slot", params))
    slots = max(1, (hi - lo) // step)
    out: dict[str, list[tuple[int, int]]] = {}
    async with engine.connect() as conn:
        for sql, params in queries:
            for ip, slot, sent, bounced in await conn.execute(text(sql), params):
                series = out.get(ip)
                if series is None:
                    series = out[ip] = [(0, 0)] * slots
                if 0 <= slot < slots:
                    series[int(slot)] = (int(sent or 0), int(bounced or 0))
    return out


async def warmup_sent_today(
    engine: AsyncEngine, plans: Iterable[PlanState], hi: int
) -> dict[str, int]:
    """Per plan's IP, sent since the start of the plan's day (what its quota counts)."""
    out = {}
    for p in plans:
        lo = minute_floor(warmup.day_window_start(p))
        out[p.ip] = (await ip_window_stats(engine, p.ip, lo, hi)).sent
    return out


async def warmup_stage_stats(
    engine: AsyncEngine, plans: Iterable[PlanState], hi: int
) -> dict[str, WindowStats]:
    """Per plan's IP, its counters since ``warmup.stage_window_start`` (the stage gate)."""
    out = {}
    for p in plans:
        lo = minute_floor(warmup.stage_window_start(p))
        out[p.ip] = await ip_window_stats(engine, p.ip, lo, hi)
    return out


async def ingest_sources(engine: AsyncEngine) -> list[dict[str, Any]]:
    sql = text(
        "SELECT source, host, format, path, last_event_at, last_read_at, lines, events,"
        " ignored, malformed, unattributed, internal, expired, samples, error"
        " FROM ingest_counter ORDER BY source, host"
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(sql)).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d["name"] = d.pop("source")
        d["samples"] = json.loads(d["samples"] or "[]")
        out.append(d)
    return out


async def bounce_samples(engine: AsyncEngine, ip: str, limit: int = 20) -> list[dict[str, Any]]:
    sql = text(
        "SELECT ts, ip, subuser, rcpt_domain, status, hard, diag FROM bounce_sample"
        " WHERE ip = :ip ORDER BY ts DESC LIMIT :n"
    )
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(sql, {"ip": ip, "n": limit})).mappings()]


async def read_lease(engine: AsyncEngine) -> dict[str, Any] | None:
    t = table_of(Lease)
    async with engine.connect() as conn:
        row = (await conn.execute(select(t).where(t.c.name == ENGINE_LEASE))).mappings().first()
    return dict(row) if row else None


async def read_members(engine: AsyncEngine) -> list[MemberState]:
    async with engine.connect() as conn:
        return await engine_store.load_members(conn)


async def read_plans(engine: AsyncEngine) -> list[PlanState]:
    async with engine.connect() as conn:
        return await engine_store.load_plans(conn)


async def read_alerts(
    engine: AsyncEngine, state: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Alerts newest first; ``state`` filters (firing, acknowledged, resolved); None = all."""
    t = table_of(Alert)
    q = select(t).order_by(t.c.opened_at.desc()).limit(limit)
    if state is not None:
        q = q.where(t.c.state == state)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings().all()]
