"""The ledger of provider suspensions applied to the MTA (``core.mta.suspensions``'s
``Ledger``): one row per (mta kind, ip, provider), written after a successful apply."""

from __future__ import annotations

import json

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.mta.suspensions import Applied
from opsconsole.storage.mta_suspension_tables import mta_suspension as S


class SuspensionLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def applied(self, kind: str) -> dict[tuple[str, str], Applied]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(S).where(S.c.kind == kind))).all()
        return {
            (r.ip, r.provider): Applied(r.ip, r.provider, r.until, tuple(json.loads(r.ids)))
            for r in rows
        }

    async def record(self, kind: str, a: Applied, now: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(S).where(and_(S.c.kind == kind, S.c.ip == a.ip, S.c.provider == a.provider))
            )
            await conn.execute(
                S.insert().values(
                    kind=kind, ip=a.ip, provider=a.provider, until=a.until,
                    ids=json.dumps(list(a.ids)), applied_at=now,
                )
            )  # fmt: skip

    async def forget(self, kind: str, ip: str, provider: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(S).where(and_(S.c.kind == kind, S.c.ip == ip, S.c.provider == provider))
            )
