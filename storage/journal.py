"""The journal (``core.engine.journal``) on SQLAlchemy: rows written inside the decision's
transaction (:func:`add`), claimed by compare-and-swap, finished with their audit entry in
one transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.engine.journal import JournalEntry, JournalItem
from opsconsole.core.ports import AuditEntry
from opsconsole.storage import audit
from opsconsole.storage.mta_tables import journal as J
from opsconsole.storage.mta_tables import mta_original as O

c = J.c


async def add(conn: AsyncConnection, entries: Sequence[JournalEntry], now: float) -> None:
    """Write ``entries`` inside the caller's transaction (pending, due now)."""
    for e in entries:
        await conn.execute(
            J.insert().values(
                kind=e.kind,
                key=e.key,
                payload=json.dumps(dict(e.payload), default=str),
                state="pending",
                attempts=0,
                next_at=now,
                created_at=now,
            )
        )


def _item(r: Any) -> JournalItem:
    return JournalItem(
        id=r.id,
        kind=r.kind,
        key=r.key,
        payload=json.loads(r.payload or "{}"),
        state=r.state,
        attempts=r.attempts,
        next_at=r.next_at,
        created_at=r.created_at,
        last_error=r.last_error,
    )


class JournalStore:
    """``core.engine.journal.JournalPort`` plus the reads ``status`` and ``mta`` need."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def due(self, now: float, limit: int) -> list[JournalItem]:
        q = (
            select(J)
            .where(and_(c.state == "pending", c.next_at <= now))
            .order_by(c.next_at, c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [_item(r) for r in (await conn.execute(q)).all()]

    async def claim(self, item_id: int, holder: str, now: float) -> bool:
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(J)
                .where(and_(c.id == item_id, c.state == "pending"))
                .values(state="running", holder=holder, started_at=now, attempts=c.attempts + 1)
            )
            if res.rowcount != 1:
                return False
            row = (await conn.execute(select(J).where(c.id == item_id))).first()
            if row is not None and row.kind == "mta":
                # One apply satisfies every MTA row due now: it recomputes from desired state.
                await conn.execute(
                    update(J)
                    .where(and_(c.kind == "mta", c.state == "pending", c.id != item_id))
                    .values(
                        state="done",
                        finished_at=now,
                        result=json.dumps({"coalesced_into": item_id}),
                    )
                )
            return True

    async def finish(
        self,
        item_id: int,
        state: str,
        now: float,
        result: Mapping[str, Any],
        next_at: float | None = None,
        error: str | None = None,
        audits: Sequence[AuditEntry] = (),
    ) -> None:
        values: dict[str, Any] = {
            "state": state,
            "result": json.dumps(dict(result), default=str),
            "last_error": error,
            "holder": None,
        }
        if next_at is not None:
            values["next_at"] = next_at
        if state in ("done", "failed"):
            values["finished_at"] = now
        async with self.engine.begin() as conn:
            await conn.execute(update(J).where(c.id == item_id).values(**values))
            for e in audits:
                await audit.record(
                    conn, at=now, actor=e.actor, action=e.action, ip=e.ip, pool=e.pool,
                    subuser=e.subuser, reason=e.reason, detail=dict(e.detail),
                )  # fmt: skip

    async def requeue_running(self, now: float) -> int:
        """Rows left ``running`` by a dead engine become due again."""
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(J).where(c.state == "running").values(state="pending", next_at=now)
            )
            return int(res.rowcount or 0)

    async def counts(self) -> dict[str, int]:
        q = select(c.state, func.count()).group_by(c.state)
        async with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in (await conn.execute(q)).all()}

    async def open_rows(self, limit: int = 50) -> list[dict[str, Any]]:
        """Rows not done: pending, running, failed (newest first)."""
        q = (
            select(J)
            .where(or_(c.state == "pending", c.state == "running", c.state == "failed"))
            .order_by(c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        out = []
        for r in rows:
            d = dict(r)
            d["payload"] = json.loads(d["payload"] or "{}")
            d["result"] = json.loads(d["result"] or "null")
            out.append(d)
        return out

    async def all_rows(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(J).order_by(c.id))).mappings().all()
        return [dict(r) for r in rows]

    def suspension_ledger(self) -> Any:
        """Provider suspensions applied to the MTA (storage/mta_suspensions.py)."""
        from opsconsole.storage.mta_suspensions import SuspensionLedger

        return SuspensionLedger(self.engine)

    # -- what the MTA had before opsconsole's first write ------------------------------

    async def original(self, kind: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(O).where(O.c.kind == kind))).first()
        return None if row is None else dict(json.loads(row.value))

    async def save_original(self, kind: str, value: Mapping[str, Any], now: float) -> bool:
        """Store ``value`` unless one is stored already (the first write wins)."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(O.c.kind).where(O.c.kind == kind))).first()
            if row is not None:
                return False
            await conn.execute(
                O.insert().values(kind=kind, captured_at=now, value=json.dumps(dict(value)))
            )
            return True

    async def forget_original(self, kind: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(O.delete().where(O.c.kind == kind))
