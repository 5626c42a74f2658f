"""Retention and planner statistics, run by the engine hourly and after a CLI ingest.

Buckets keep ``retention.buckets`` (90 d), bounce samples ``retention.samples`` (7 d),
audit entries ``retention.audit``; delivered outbox rows are dropped after a week, and
resolved alerts are kept (they are history). ``ANALYZE`` with a row limit keeps it cheap
on big tables; it is what lets SQLite skip-scan the (ip, subuser, minute) key for window
queries instead of reading the whole table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SENT_OUTBOX_KEEP = 7 * 86400.0


async def prune(engine: AsyncEngine, retention: Any, now: float) -> dict[str, int]:
    """Delete what is past its retention; return rows deleted per table."""
    cuts = {
        "bucket": ("minute", int(now - retention.buckets)),
        "signature_hit": ("minute", int(now - retention.buckets)),
        "bounce_sample": ("ts", now - retention.samples),
        "audit": ("at", now - retention.audit),
    }
    out: dict[str, int] = {}
    async with engine.begin() as conn:
        for table, (col, before) in cuts.items():
            res = await conn.execute(
                text(f"DELETE FROM {table} WHERE {col} < :before"), {"before": before}
            )
            out[table] = res.rowcount or 0
        res = await conn.execute(
            text("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < :before"),
            {"before": now - SENT_OUTBOX_KEEP},
        )
        out["outbox"] = res.rowcount or 0
        res = await conn.execute(
            text("DELETE FROM esp_event WHERE ts < :before"),
            {"before": now - retention.buckets},
        )
        out["esp_event"] = res.rowcount or 0
        await conn.execute(
            text("DELETE FROM esp_engagement WHERE minute < :before"),
            {"before": int(now - retention.buckets)},
        )
    return out


async def analyze(engine: AsyncEngine) -> None:
    """Refresh the planner's statistics (bounded work on SQLite; plain ANALYZE elsewhere)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA analysis_limit=2000")
        await conn.exec_driver_sql("ANALYZE")
