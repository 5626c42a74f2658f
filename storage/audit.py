"""The audit log: every action, automatic or by an operator, with who and why."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.storage.tables import Audit, table_of

_T = table_of(Audit)


async def record(
    conn: AsyncConnection,
    *,
    at: float,
    actor: str,
    action: str,
    ip: str = "",
    pool: str = "",
    subuser: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry inside the caller's transaction (the change and its record commit together)."""
    await conn.execute(
        _T.insert().values(
            at=at,
            actor=actor,
            action=action,
            ip=ip or "",
            pool=pool or "",
            subuser=subuser or "",
            reason=reason,
            detail=json.dumps(detail or {}, default=str),
        )
    )


async def entries(
    engine: AsyncEngine, since: float | None = None, ip: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Newest first."""
    q = select(_T).order_by(_T.c.at.desc(), _T.c.id.desc()).limit(limit)
    if since is not None:
        q = q.where(_T.c.at >= since)
    if ip:
        q = q.where(_T.c.ip == ip)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d["detail"] = json.loads(d["detail"] or "{}")
        out.append(d)
    return out
