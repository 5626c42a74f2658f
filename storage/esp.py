"""The storage side of ESP webhooks: the receiver's ``store`` port, and the dedup step
shared with ``ingest --format sendgrid|mailgun|ses``.

Exactly once: in ONE transaction the batch's event ids go into ``esp_event`` with
``ON CONFLICT DO NOTHING RETURNING event_id``; only the ids the database reports as newly
inserted are aggregated into the minute buckets, bounce samples and ingest counters (the
same batched writes as file ingest, :func:`storage.checkpoints.write_aggregate`). A
retried POST, a replayed batch, or a payload file ingested after its webhook was received
therefore adds nothing, and two engines receiving the same retry concurrently cannot both
count it (the primary key decides). The 2xx is sent only after the commit returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.aggregate import BatchAggregate, EspPending
from opsconsole.core.events import Event
from opsconsole.core.sources.base import ParseStats
from opsconsole.storage.checkpoints import write_aggregate
from opsconsole.storage.sql import placeholders

CHUNK = 300  # rows per multi-row INSERT (3 parameters each: far below driver limits)
Engaged = tuple[str, float, str, str | None, str | None]


async def _insert_new(
    conn: AsyncConnection, source: str, rows: Sequence[tuple[str, float]]
) -> set[str]:
    """Insert (event_id, ts) rows; return the ids that were not stored before."""
    new: set[str] = set()
    seen: dict[str, float] = {}
    for eid, ts in rows:
        seen.setdefault(eid, ts)
    unique = list(seen.items())
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i : i + CHUNK]
        marks = placeholders(conn, 3 * len(chunk)).split(", ")
        values = ", ".join(
            f"({marks[3 * k]}, {marks[3 * k + 1]}, {marks[3 * k + 2]})" for k in range(len(chunk))
        )
        params: list[object] = []
        for eid, ts in chunk:
            params += [source, eid, float(ts)]
        sql = (
            f"INSERT INTO esp_event (source, event_id, ts) VALUES {values}"
            " ON CONFLICT (source, event_id) DO NOTHING RETURNING event_id"
        )
        result = await conn.exec_driver_sql(sql, tuple(params))
        new.update(r[0] for r in result.fetchall())
    return new


async def fold_pending(conn: AsyncConnection, agg: BatchAggregate, stats: ParseStats) -> None:
    """Dedup ``agg.pending`` inside the caller's transaction: new events join ``agg``,
    new engagement goes to ``esp_engagement``; ``stats.events`` becomes the new count."""
    pending = agg.pending
    if pending is None:
        return
    agg.pending = None
    ids = [(eid, ev.ts) for eid, ev in pending.items] + [(e[0], e[1]) for e in pending.engaged]
    new = await _insert_new(conn, pending.source, ids)
    fresh: list[Event] = []
    for eid, ev in pending.items:
        if eid in new:
            new.discard(eid)  # a payload repeating an id counts it once
            fresh.append(ev)
    agg.add_all(fresh)
    stats.events = len(fresh)
    stats.unattributed = sum(1 for ev in fresh if ev.ip is None)
    engaged = []
    for e in pending.engaged:
        if e[0] in new:
            new.discard(e[0])
            engaged.append(e)
    await _add_engagement(conn, engaged)


async def _add_engagement(conn: AsyncConnection, engaged: list[Engaged]) -> None:
    rows: dict[tuple[str, str, int], list[int]] = {}
    for _, ts, kind, ip, subuser in engaged:
        row = rows.setdefault((ip or "", subuser or "", int(ts) // 60 * 60), [0, 0])
        row[0 if kind == "open" else 1] += 1
    if not rows:
        return
    sql = (
        "INSERT INTO esp_engagement (ip, subuser, minute, opens, clicks)"
        f" VALUES ({placeholders(conn, 5)}) ON CONFLICT (ip, subuser, minute) DO UPDATE SET"
        " opens = esp_engagement.opens + excluded.opens,"
        " clicks = esp_engagement.clicks + excluded.clicks"
    )
    await conn.exec_driver_sql(sql, [(*k, *v) for k, v in rows.items()])


class EspStore:
    """The receiver's ``store(source, items, engaged)`` port over the database."""

    def __init__(self, engine: AsyncEngine, clock: object = None, host: str = "") -> None:
        import time

        self.engine = engine
        self.clock = clock if callable(clock) else time.time
        self.host = host

    async def __call__(
        self, source: str, items: list[tuple[str, Event]], engaged: Sequence[Engaged] = ()
    ) -> int:
        agg = BatchAggregate(pending=EspPending(source, list(items), list(engaged)))
        stats = ParseStats(lines=1, events=len(items))
        async with self.engine.begin() as conn:
            await fold_pending(conn, agg, stats)
            await write_aggregate(
                conn, source=f"hooks/{source}", fmt=source, path=f"/hooks/{source}",
                agg=agg, stats=stats, now=float(self.clock()), host=self.host,
            )  # fmt: skip
        return stats.events

    async def engagement(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(ip, subuser) -> (opens, clicks) over all retained minutes."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT ip, subuser, sum(opens), sum(clicks) FROM esp_engagement"
                        " GROUP BY ip, subuser"
                    )
                )
            ).all()
        return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}
