"""Notify-area reads: active silences (``alerts silence list``, the Alerts panel)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.storage.engine_store import SILENCES


class NotifyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def silences(self, now: float) -> list[dict[str, Any]]:
        """Silences still muting their key at ``now``, soonest expiry first."""
        s = SILENCES.c
        q = select(s.key, s.until, s.actor, s.created_at).where(s.until > now).order_by(s.until)
        async with self.engine.connect() as cx:
            return [dict(r._mapping) for r in (await cx.execute(q)).all()]


__all__ = ["NotifyStore"]
