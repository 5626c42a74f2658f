"""Reputation storage: implements core.reputation.job.ReputationPort and the report's reads.

Writes replace rows by primary key (delete + insert in one transaction: the same SQL on
SQLite and PostgreSQL). A change of listed state or SNDS filter appends to
``reputation_change``, which the IP detail draws on its timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.ports import Fence
from opsconsole.storage import lease
from opsconsole.storage.reputation_tables import reputation, reputation_change, snds, zone_health

if TYPE_CHECKING:  # annotations only: dnspython and the SNDS client's httpx stay out of
    # every command's start-up (43 ms of imports for `ingest`)
    from opsconsole.core.reputation.dnsbl import CheckReport, ZoneHealth
    from opsconsole.core.reputation.snds import BlockedRange, UsageRow

Row = dict[str, Any]


async def _put_health(conn: AsyncConnection, health: Sequence[ZoneHealth]) -> None:
    """Replace each zone's row, carrying its last success and last error forward."""
    before = {r.zone: r for r in (await conn.execute(select(zone_health))).all()}
    for h in health:
        old = before.get(h.zone)
        last_ok = old.last_ok_at if old is not None else None
        last_error = old.last_error if old is not None else None
        if h.state == "ok":
            last_ok = h.checked_at if h.checked_at is not None else last_ok
        if h.reason and (h.failures or h.state in ("error", "refused", "dead")):
            last_error = h.reason
        await conn.execute(delete(zone_health).where(zone_health.c.zone == h.zone))
        await conn.execute(zone_health.insert().values(
            zone=h.zone, state=h.state, reason=h.reason, checked_at=h.checked_at,
            lookups=h.lookups, failures=h.failures, last_ok_at=last_ok, last_error=last_error,
        ))  # fmt: skip


async def _fenced(conn: AsyncConnection, fence: Fence | None) -> None:
    if fence is not None:
        await lease.fence(conn, fence)


class ReputationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def save_dnsbl(self, report: CheckReport, fence: Fence | None = None) -> None:
        async with self.engine.begin() as conn:
            await _fenced(conn, fence)
            before = {(r.ip, r.zone): r for r in (await conn.execute(select(reputation))).all()}
            for r in report.results:
                if r.skipped:
                    continue  # a dead zone: keep what was known, health says why
                old = before.get((r.ip, r.zone))
                if not r.known and old is not None:
                    # refused/failed: "we do not know", the last trustworthy answer stays
                    await conn.execute(reputation.update().where(
                        and_(reputation.c.ip == r.ip, reputation.c.zone == r.zone)
                    ).values(refused=r.refused, error=r.error))  # fmt: skip
                    continue
                if old is not None:
                    await conn.execute(delete(reputation).where(
                        and_(reputation.c.ip == r.ip, reputation.c.zone == r.zone)))  # fmt: skip
                await conn.execute(reputation.insert().values(
                    ip=r.ip, zone=r.zone, listed=r.listed, code=", ".join(r.codes),
                    meaning="; ".join(dict.fromkeys(r.meanings)), severity=r.severity,
                    refused=r.refused, error=r.error, checked_at=r.checked_at,
                ))  # fmt: skip
                was = bool(old.listed) if old is not None else False
                if r.known and r.listed != was:
                    await conn.execute(reputation_change.insert().values(
                        ip=r.ip, source=r.zone, at=r.checked_at,
                        state="listed" if r.listed else "clear", detail=", ".join(r.codes),
                    ))  # fmt: skip
            await _put_health(conn, report.health)

    async def save_snds(
        self,
        rows: Sequence[UsageRow],
        blocked: Sequence[BlockedRange],
        now: float,
        fence: Fence | None = None,
    ) -> None:
        async with self.engine.begin() as conn:
            await _fenced(conn, fence)
            last: dict[str, str] = {}
            for r in (await conn.execute(select(snds).order_by(snds.c.day))).all():
                last[r.ip] = r.filter
            for row in sorted(rows, key=lambda x: (x.day or "", x.ip)):
                day = row.day or row.activity_start[:10]
                is_blocked = any(b.blocked and b.contains(row.ip) for b in blocked)
                await conn.execute(delete(snds).where(
                    and_(snds.c.ip == row.ip, snds.c.day == day)))  # fmt: skip
                await conn.execute(snds.insert().values(
                    ip=row.ip, day=day, activity_start=row.activity_start,
                    activity_end=row.activity_end, rcpt=row.rcpt_commands,
                    data=row.data_commands, recipients=row.recipients, filter=row.filter,
                    complaint_rate=row.complaint_rate, trap_hits=row.trap_hits,
                    blocked=is_blocked, fetched_at=now,
                ))  # fmt: skip
                if last.get(row.ip) != row.filter:
                    await conn.execute(delete(reputation_change).where(and_(
                        reputation_change.c.ip == row.ip, reputation_change.c.source == "snds",
                        reputation_change.c.at == now)))  # fmt: skip
                    await conn.execute(reputation_change.insert().values(
                        ip=row.ip, source="snds", at=now, state=row.filter, detail=day,
                    ))  # fmt: skip
                    last[row.ip] = row.filter

    async def save_health(self, health: Sequence[ZoneHealth], fence: Fence | None = None) -> None:
        async with self.engine.begin() as conn:
            await _fenced(conn, fence)
            await _put_health(conn, health)

    # -- reads -----------------------------------------------------------------------

    async def _rows(self, q: Any) -> list[Row]:
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(q)).mappings().all()]

    async def results(self, ip: str | None = None) -> list[Row]:
        q = select(reputation).order_by(reputation.c.ip, reputation.c.zone)
        if ip:
            q = q.where(reputation.c.ip == ip)
        return await self._rows(q)

    async def snds_rows(self, ip: str | None = None, limit: int = 1000) -> list[Row]:
        q = select(snds).order_by(snds.c.day.desc(), snds.c.ip).limit(limit)
        if ip:
            q = q.where(snds.c.ip == ip)
        return await self._rows(q)

    async def health(self) -> list[Row]:
        return await self._rows(select(zone_health).order_by(zone_health.c.zone))

    async def changes(self, ip: str, since: float) -> list[Row]:
        q = (
            select(reputation_change)
            .where(and_(reputation_change.c.ip == ip, reputation_change.c.at >= since))
            .order_by(reputation_change.c.at)
        )
        return await self._rows(q)
