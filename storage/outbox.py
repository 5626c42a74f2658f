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

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.notify.dispatcher import NotifierStats, OutboxItem
from opsconsole.storage.notify_tables import OUTBOX
from opsconsole.storage.tables import AlertEvent, table_of

GAVE_UP = 253_402_300_799.0  # 9999-12-31T23:59:59Z: "never" for next_attempt_at

T = OUTBOX
c = T.c
_EARLIER = T.alias("earlier")
_EVENTS = table_of(AlertEvent)

_ITEM_COLUMNS = (
    c.id,
    c.notifier,
    c.alert_id,
    c.payload,
    c.attempts,
    c.created_at,
    c.next_attempt_at,
    c.last_error,
    c.seq,
    c.notice_id,
)


def _item(row: Any, stamp: bool = False) -> OutboxItem:
    body = json.loads(row.payload)
    if stamp and row.notice_id:
        body.setdefault("notice_id", row.notice_id)
        body.setdefault("seq", row.seq)
    return OutboxItem(
        id=row.id,
        notifier=row.notifier,
        alert_id=row.alert_id,
        body=body,
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
        """One row per notifier name (already filtered, see ``kinds.recipients_for``);
        returns their ids. With ``conn`` the rows join the caller's transaction, so an alert
        and its notifications commit together.

        The notice gets its transition number ``seq``: the count of the alert's history
        rows (written earlier in the same transaction), never below the last outbox seq
        + 1, and ``notice_id`` = ``<alert id>:<seq>`` unless the body brings its own (a
        grouped notice). Both are columns; :meth:`claim` puts them into the body it hands
        the dispatcher, so every send (and every retry) carries the same id."""
        names = [notifiers] if isinstance(notifiers, str) else list(notifiers)
        if not names:
            return []
        ids: list[int] = []
        async with _conn(self.engine, conn) as cx:
            events = await cx.scalar(
                select(func.count()).select_from(_EVENTS).where(_EVENTS.c.alert_id == alert_id)
            )
            last = await cx.scalar(select(func.max(c.seq)).where(c.alert_id == alert_id))
            seq = max(int(events or 0), int(last or 0) + 1)
            notice_id = str(body.get("notice_id") or f"{alert_id}:{seq}")
            payload = json.dumps(dict(body), separators=(",", ":"))
            for name in names:
                res = await cx.execute(
                    T.insert().values(
                        created_at=now,
                        notifier=name,
                        alert_id=alert_id,
                        payload=payload,
                        attempts=0,
                        next_attempt_at=now,
                        seq=seq,
                        notice_id=notice_id,
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
        (two processes, overlapping drains) never get the same row.

        Order: a row is only claimable when no earlier row of the same alert for the same
        notifier is still pending (due or not, claimed or not); given-up rows do not hold
        later ones back. So notice N+1 of an alert never leaves before N is sent or given
        up, across restarts: the gate is in the table, not in memory."""
        names = list(notifiers)
        if not names:
            return []
        e = _EARLIER.c
        blocked = exists().where(
            e.notifier == c.notifier,
            e.alert_id == c.alert_id,
            e.id < c.id,
            e.sent_at.is_(None),
            e.next_attempt_at < GAVE_UP,
        )
        ids = select(c.id).where(_due(now, names), ~blocked).order_by(c.id).limit(limit)
        stmt = (
            update(T)
            .where(c.id.in_(ids.scalar_subquery()), _due(now, names))
            .values(next_attempt_at=now + ttl)
            .returning(*_ITEM_COLUMNS)
        )
        async with self.engine.begin() as cx:
            rows = (await cx.execute(stmt)).all()
        return sorted((_item(r, stamp=True) for r in rows), key=lambda i: i.id)

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

    async def retry(self, ids: Sequence[int], now: float) -> int:
        """Make these given-up rows due again; the number changed."""
        if not ids:
            return 0
        cond = and_(c.id.in_(list(ids)), c.sent_at.is_(None), c.next_attempt_at >= GAVE_UP)
        async with self.engine.begin() as cx:
            res = await cx.execute(update(T).where(cond).values(next_attempt_at=now, attempts=0))
        return int(res.rowcount or 0)

    async def rows(self, failed_only: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
        """Outbox rows, newest first, for ``alerts notifications``."""
        q = select(
            c.id, c.created_at, c.notifier, c.alert_id, c.seq, c.notice_id, c.attempts,
            c.next_attempt_at, c.last_error, c.sent_at, c.payload,
        )  # fmt: skip
        if failed_only:
            q = q.where(c.sent_at.is_(None), c.next_attempt_at >= GAVE_UP)
        q = q.order_by(c.id.desc()).limit(limit)
        async with self.engine.connect() as cx:
            rows = (await cx.execute(q)).all()
        out = []
        for r in rows:
            body = json.loads(r.payload)
            if r.sent_at is not None:
                status = "sent"
            elif r.next_attempt_at >= GAVE_UP:
                status = "failed"
            else:
                status = "retrying" if r.attempts else "pending"
            out.append({
                "id": r.id, "created_at": r.created_at, "notifier": r.notifier,
                "alert_id": r.alert_id, "notice_id": r.notice_id or body.get("notice_id"),
                "seq": r.seq, "state": body.get("state"), "transition": body.get("transition"),
                "status": status, "attempts": r.attempts,
                "next_attempt_at": None if status in ("sent", "failed") else r.next_attempt_at,
                "sent_at": r.sent_at, "last_error": r.last_error,
            })  # fmt: skip
        return out

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
