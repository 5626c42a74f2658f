"""Operator commands written by any process and applied by the acting engine."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.storage.tables import Command, table_of

_T = table_of(Command)


async def submit(
    engine: AsyncEngine, actor: str, verb: str, args: dict[str, Any], now: float
) -> int:
    async with engine.begin() as conn:
        res = await conn.execute(
            _T.insert().values(created_at=now, actor=actor, verb=verb, args=json.dumps(args))
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]


async def pending(engine: AsyncEngine) -> list[dict[str, Any]]:
    q = select(_T).where(_T.c.applied_at.is_(None)).order_by(_T.c.id)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
    return [dict(r) | {"args": json.loads(r["args"] or "{}")} for r in rows]


async def get(engine: AsyncEngine, command_id: int) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(_T).where(_T.c.id == command_id))).mappings().first()
    return dict(row) if row else None


async def wait_applied(
    engine: AsyncEngine, command_id: int, timeout: float, poll: float = 0.2
) -> dict[str, Any] | None:
    """The command row once applied, or None if ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        row = await get(engine, command_id)
        if row and row["applied_at"] is not None:
            return row
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(poll)
