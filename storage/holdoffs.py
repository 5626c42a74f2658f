"""Rows of core.holdoff: operator hold-offs, removal expiries, undo marks (migration v014)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.holdoff import (
    ClearExpiry,
    ClearHoldoff,
    Expiry,
    Holdoff,
    HoldoffOp,
    HoldoffState,
    UndoMark,
)
from opsconsole.core.stats import WindowStats
from opsconsole.storage.engine_store import upsert
from opsconsole.storage.mta_tables import action_undo, removal_expiry, restore_holdoff
from opsconsole.storage.tables import Audit, table_of

_AUDIT = table_of(Audit)
_H, _E = restore_holdoff, removal_expiry


async def load_state(conn: AsyncConnection) -> HoldoffState:
    hs = (await conn.execute(select(_H))).mappings().all()
    es = (await conn.execute(select(_E))).mappings().all()
    return HoldoffState(
        {(r["pool"], r["ip"]): Holdoff(**dict(r)) for r in hs},
        {(r["pool"], r["ip"]): Expiry(**dict(r)) for r in es},
    )


async def write(conn: AsyncConnection, ops: Iterable[HoldoffOp]) -> None:
    """Inside the caller's transaction (with the audit entries of the same decision)."""
    for op in ops:
        if isinstance(op, Holdoff):
            await upsert(conn, _H, {
                "pool": op.pool, "ip": op.ip, "until": op.until, "actor": op.actor,
                "bounce_rate": op.bounce_rate, "complaint_rate": op.complaint_rate,
                "created_at": op.created_at,
            })  # fmt: skip
        elif isinstance(op, Expiry):
            await upsert(conn, _E, {
                "pool": op.pool, "ip": op.ip, "until": op.until,
                "created_at": op.created_at, "extended": op.extended,
            })  # fmt: skip
        elif isinstance(op, ClearHoldoff):
            await conn.execute(_H.delete().where(_H.c.pool == op.pool, _H.c.ip == op.ip))
        elif isinstance(op, ClearExpiry):
            await conn.execute(_E.delete().where(_E.c.pool == op.pool, _E.c.ip == op.ip))
        elif isinstance(op, UndoMark):
            await conn.execute(
                action_undo.insert().values(audit_id=op.audit_id, actor=op.actor, at=op.at)
            )


class HoldoffStore:
    """Reads for the check and the views (``SqlStore.holdoff_store``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def holdoff_state(self) -> HoldoffState:
        async with self.engine.connect() as conn:
            return await load_state(conn)


class HoldoffTx:
    """The same inside an operator command's transaction (``SqlTx.holdoffs``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def holdoff_state(self) -> HoldoffState:
        return await load_state(self.conn)

    async def ip_stats(self, ip: str, lo: int, hi: int) -> WindowStats:
        from sqlalchemy import text

        sql = text(
            "SELECT sum(delivered), sum(bounced), sum(hard), sum(soft), sum(deferred),"
            " sum(complaints) FROM bucket WHERE ip = :ip AND minute >= :lo AND minute < :hi"
        )
        row = (await self.conn.execute(sql, {"ip": ip, "lo": lo, "hi": hi})).first()
        return WindowStats(*(int(v or 0) for v in (row or ())))

    async def audit_entry(self, audit_id: int) -> dict[str, Any] | None:
        row = (
            (await self.conn.execute(select(_AUDIT).where(_AUDIT.c.id == audit_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        d = dict(row)
        d["detail"] = json.loads(d["detail"] or "{}")
        return d

    async def undone_by(self, audit_id: int) -> dict[str, Any] | None:
        q = select(action_undo).where(action_undo.c.audit_id == audit_id)
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row is not None else None
