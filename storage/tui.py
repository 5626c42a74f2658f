"""Reads for the console's alert detail: an alert's transitions and its notifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.storage.tables import AlertEvent, Outbox, table_of


async def alert_history(
    engine: AsyncEngine, alert_id: str, limit: int = 200
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(transitions from alert_event, oldest first; outbox rows for the alert, oldest first).
    The outbox payload is left out: it is the notice's body, not its outcome."""
    ev = table_of(AlertEvent)
    ob = table_of(Outbox)
    q_ev = select(ev).where(ev.c.alert_id == alert_id).order_by(ev.c.at, ev.c.id).limit(limit)
    q_ob = (
        select(ob.c.id, ob.c.created_at, ob.c.notifier, ob.c.attempts, ob.c.next_attempt_at,
               ob.c.last_error, ob.c.sent_at)
        .where(ob.c.alert_id == alert_id).order_by(ob.c.created_at, ob.c.id).limit(limit)
    )  # fmt: skip
    async with engine.connect() as conn:
        events = [dict(r) for r in (await conn.execute(q_ev)).mappings().all()]
        sent = [dict(r) for r in (await conn.execute(q_ob)).mappings().all()]
    return events, sent
