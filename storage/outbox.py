"""The notification outbox: rows written with the alert that caused them, drained by the
dispatcher (``opsconsole.core.notify.dispatcher``), whose ``OutboxPort`` this implements.

Row life: pending (``sent_at`` NULL, ``next_attempt_at`` when it is next due) -> sent
(``sent_at`` set), or given up (``sent_at`` NULL and ``next_attempt_at`` = :data:`GAVE_UP`,
a far-future time rather than a NULL or infinity, so the column stays a plain NOT NULL float
on SQLite and PostgreSQL alike and ``due`` needs no extra condition).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.notify.dispatcher import NotifierStats, OutboxItem
from opsconsole.storage.tables import Outbox, table_of

GAVE_UP = 253_402_300_799.0  # 9999-12-31T23:59:59Z: "never" for next_attempt_at

T = table_of(Outbox)
c = T.c

_ITEM_COLUMNS = (
    c.id,
    c.notifier,
    c.alert_id,
    c.payload,
    c.attempts,
    c.created_at,
    c.next_attempt_at,
    c.last_error,
)


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        notifier=row.notifier,
        alert_id=row.alert_id,
        body=json.loads(row.payload),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
    )


class OutboxStore:
    """Outbox reads and writes with SQLAlchemy Core on an async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def enqueue(
        self,
        notifiers: str | Iterable[str],
        alert_id: str,
        body: Mapping[str, Any],
        now: float,
        conn: AsyncConnection | None = None,
    ) -> list[int]:
        """One row per notifier name (already filtered by min_severity, see
        ``sender.recipients``); returns their ids. With ``conn`` the rows join the caller's
        transaction, so an alert and its notifications commit together."""
        names = [notifiers] if isinstance(notifiers, str) else list(notifiers)
        if not names:
            return []
        payload = json.dumps(dict(body), separators=(",", ":"))
        ids: list[int] = []
        async with _conn(self.engine, conn) as cx:
            for name in names:
                res = await cx.execute(
                    T.insert().values(
                        created_at=now,
                        notifier=name,
                        alert_id=alert_id,
                        payload=payload,
                        attempts=0,
                        next_attempt_at=now,
                    )
                )
                key = res.inserted_primary_key
                assert key is not None
                ids.append(int(key[0]))
        return ids

    async def due(
        self, now: float, limit: int = 100, notifiers: Iterable[str] | None = None
    ) -> list[OutboxItem]:
        """Unsent rows due at ``now``, oldest first (read only)."""
        q = select(*_ITEM_COLUMNS).where(_due(now, notifiers)).order_by(c.id).limit(limit)
        async with self.engine.connect() as cx:
            return [_item(r) for r in (await cx.execute(q)).all()]

    async def claim(
        self, now: float, limit: int, notifiers: Iterable[str], ttl: float
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due rows in one UPDATE ... RETURNING: concurrent claimers
        (two processes, overlapping drains) never get the same row."""
        names = list(notifiers)
        if not names:
            return []
        ids = select(c.id).where(_due(now, names)).order_by(c.id).limit(limit)
        stmt = (
            update(T)
            .where(c.id.in_(ids.scalar_subquery()), _due(now, names))
            .values(next_attempt_at=now + ttl)
            .returning(*_ITEM_COLUMNS)
        )
        async with self.engine.begin() as cx:
            rows = (await cx.execute(stmt)).all()
        return sorted((_item(r) for r in rows), key=lambda i: i.id)

    async def release(self, ids: Sequence[int], at: float) -> None:
        if not ids:
            return
        async with self.engine.begin() as cx:
            await cx.execute(
                update(T)
                .where(c.id.in_(list(ids)), c.sent_at.is_(None), c.next_attempt_at < GAVE_UP)
                .values(next_attempt_at=at)
            )

    async def mark_sent(self, id: int, now: float) -> None:
        async with self.engine.begin() as cx:
            await cx.execute(
                update(T)
                .where(c.id == id, c.sent_at.is_(None))
                .values(sent_at=now, attempts=c.attempts + 1)
            )

    async def mark_failed(self, id: int, error: str, next_attempt_at: float | None) -> None:
        """Count a failed attempt; ``next_attempt_at=None`` gives the row up."""
        at = GAVE_UP if next_attempt_at is None else next_attempt_at
        async with self.engine.begin() as cx:
            await cx.execute(
                update(T)
                .where(c.id == id, c.sent_at.is_(None))
                .values(attempts=c.attempts + 1, last_error=error[:1000], next_attempt_at=at)
            )

    async def retry_failed(self, now: float, notifier: str | None = None) -> int:
        """Make given-up rows due again (after an operator fixed the endpoint)."""
        cond = and_(c.sent_at.is_(None), c.next_attempt_at >= GAVE_UP)
        if notifier is not None:
            cond = and_(cond, c.notifier == notifier)
        async with self.engine.begin() as cx:
            res = await cx.execute(update(T).where(cond).values(next_attempt_at=now, attempts=0))
        return int(res.rowcount or 0)

    async def purge_sent(self, before: float) -> int:
        """Delete rows sent before ``before`` (retention)."""
        async with self.engine.begin() as cx:
            res = await cx.execute(T.delete().where(c.sent_at.is_not(None), c.sent_at < before))
        return int(res.rowcount or 0)

    async def stats(self) -> dict[str, NotifierStats]:
        """Per notifier: pending, retrying, failed, last error, last sent, oldest pending."""
        unsent = c.sent_at.is_(None)
        live = and_(unsent, c.next_attempt_at < GAVE_UP)
        dead = and_(unsent, c.next_attempt_at >= GAVE_UP)
        counts = select(
            c.notifier,
            func.count().filter(live).label("pending"),
            func.count().filter(and_(live, c.attempts > 0)).label("retrying"),
            func.count().filter(dead).label("failed"),
            func.max(c.sent_at).label("last_sent_at"),
            func.min(c.created_at).filter(live).label("oldest"),
        ).group_by(c.notifier)
        latest_error = (
            select(func.max(c.id))
            .where(unsent, c.last_error.is_not(None))
            .group_by(c.notifier)
            .scalar_subquery()
        )
        errors = select(c.notifier, c.last_error).where(c.id.in_(latest_error))
        async with self.engine.connect() as cx:
            rows = (await cx.execute(counts)).all()
            last_errors = {r.notifier: r.last_error for r in (await cx.execute(errors)).all()}
        return {
            r.notifier: NotifierStats(
                pending=int(r.pending or 0),
                retrying=int(r.retrying or 0),
                failed=int(r.failed or 0),
                last_error=last_errors.get(r.notifier),
                last_sent_at=r.last_sent_at,
                oldest_pending_at=r.oldest,
            )
            for r in rows
        }


def _due(now: float, notifiers: Iterable[str] | None) -> Any:
    cond = and_(c.sent_at.is_(None), c.next_attempt_at <= now)
    if notifiers is not None:
        cond = and_(cond, c.notifier.in_(list(notifiers)))
    return cond


@asynccontextmanager
async def _conn(
    engine: AsyncEngine, conn: AsyncConnection | None
) -> AsyncIterator[AsyncConnection]:
    """The caller's connection as is (its transaction), or a new transaction of our own."""
    if conn is not None:
        yield conn
        return
    async with engine.begin() as cx:
        yield cx


__all__ = ["GAVE_UP", "OutboxStore"]
