"""The write side of ingestion: one transaction per batch holding the bucket upserts, the
bounce samples, the ingest counters and the file checkpoint, so a kill at any moment
leaves either the whole batch or none of it, and a re-run resumes exactly where the last
committed batch ended.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.ports import CheckpointConflict, SavedCheckpoint
from opsconsole.core.sources.base import MAX_SAMPLES, ParseStats
from opsconsole.core.sources.tail import Checkpoint
from opsconsole.storage import fleet
from opsconsole.storage.sql import executemany, placeholders
from opsconsole.storage.tables import IngestCounter, SourceCheckpoint, table_of

_CP = table_of(SourceCheckpoint)


async def load_checkpoints(engine: AsyncEngine, host: str = "") -> dict[str, SavedCheckpoint]:
    """``host``'s saved positions by absolute path; a row of no host (written before
    positions were per host) stands in where ``host`` has none of its own."""
    q = select(_CP).where(_CP.c.host.in_([host, ""]))
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    out: dict[str, SavedCheckpoint] = {}
    for r in sorted(rows, key=lambda r: r.host == host):  # this host's rows win
        state = json.loads(r.parser_state or "{}")
        out[r.path] = SavedCheckpoint(Checkpoint.from_row(r), state, r.host)
    return out


async def commit_batch(
    engine: AsyncEngine,
    *,
    source: str,
    fmt: str,
    source_path: str,
    agg: BatchAggregate,
    stats: ParseStats,
    checkpoint: SavedCheckpoint | None,
    expected: SavedCheckpoint | None = None,
    now: float,
    host: str = "",
) -> None:
    """Write one batch atomically. ``checkpoint`` is None for sources without a file.

    The checkpoint moves by compare-and-swap from ``expected`` (the position this reader
    started the batch from; None for a file never read): if another writer moved it in the
    meantime, nothing of the batch is written and :class:`CheckpointConflict` is raised.
    This is what makes two readers of one file (or a leader that lost its lease mid-batch)
    unable to count a line twice. The checkpoint goes first so a conflict costs nothing.
    """
    async with engine.begin() as conn:
        if checkpoint is not None:
            await _move_checkpoint(conn, source, expected, checkpoint, now, host)
        if agg.pending is not None:  # ESP payloads: only ids never stored before count
            from opsconsole.storage.esp import fold_pending

            await fold_pending(conn, agg, stats)
        await write_aggregate(
            conn, source=source, fmt=fmt, path=source_path, agg=agg, stats=stats, now=now,
            host=host,
        )  # fmt: skip
        await fleet.record_batch_hosts(conn, host, source, agg.ip_minutes(), now)


async def write_aggregate(
    conn: AsyncConnection,
    *,
    source: str,
    fmt: str,
    path: str,
    agg: BatchAggregate,
    stats: ParseStats,
    now: float,
    host: str = "",
) -> None:
    """Buckets, bounce samples and ``host``'s ingest counters of ``source`` for one batch,
    in the caller's transaction (file ingest and the ESP webhook store share it)."""
    await _upsert_buckets(conn, agg)
    await _insert_samples(conn, agg, source)
    await _add_counters(conn, host, source, fmt, path, agg, stats, now)


async def _upsert_buckets(conn: AsyncConnection, agg: BatchAggregate) -> None:
    sql = (
        "INSERT INTO bucket (ip, subuser, provider, minute, delivered, bounced, hard, soft,"
        f" deferred, complaints) VALUES ({placeholders(conn, 10)})"
        " ON CONFLICT (ip, subuser, provider, minute) DO UPDATE SET"
        " delivered = bucket.delivered + excluded.delivered,"
        " bounced = bucket.bounced + excluded.bounced,"
        " hard = bucket.hard + excluded.hard,"
        " soft = bucket.soft + excluded.soft,"
        " deferred = bucket.deferred + excluded.deferred,"
        " complaints = bucket.complaints + excluded.complaints"
    )
    ordered = conn.dialect.name != "sqlite"  # one writer at a time there: no lock order
    await executemany(conn, sql, agg.rows(ordered))
    if agg.signature_hits:
        await executemany(
            conn,
            "INSERT INTO signature_hit (ip, provider, signature, minute, hits)"
            f" VALUES ({placeholders(conn, 5)}) ON CONFLICT (ip, provider, signature, minute)"
            " DO UPDATE SET hits = signature_hit.hits + excluded.hits",
            agg.hit_rows(ordered),
        )


async def _insert_samples(conn: AsyncConnection, agg: BatchAggregate, source: str) -> None:
    sql = (
        "INSERT INTO bounce_sample (ts, ip, subuser, rcpt_domain, status, hard, diag, source)"
        f" VALUES ({placeholders(conn, 8)})"
    )
    rows = [
        (e.ts, e.ip or "", e.subuser or "", e.rcpt_domain, e.status, e.hard, e.diag[:500], source)
        for e in agg.samples
    ]
    await executemany(conn, sql, rows)


# The counts a batch adds to its source's row (ingest_counter), besides times and samples.
STAT_COLS = ("lines", "events", "ignored", "malformed", "unattributed", "internal", "expired")
COUNTER = table_of(IngestCounter)


def counter_of(host: str, source: str) -> Any:
    """The WHERE of ``host``'s counter row of ``source``."""
    return (COUNTER.c.host == host) & (COUNTER.c.source == source)


async def write_counters(conn: AsyncConnection, host: str, source: str, **values: Any) -> None:
    await conn.execute(COUNTER.update().where(counter_of(host, source)).values(**values))


async def counter_row(
    conn: AsyncConnection, host: str, source: str, fmt: str, path: str, now: float
) -> dict[str, Any]:
    """``host``'s counter row of ``source``, made (zeros) if missing and locked for this
    transaction: hosts starting at once on a new database each insert their own row, and two
    writers of one row take turns (PostgreSQL: ``FOR UPDATE``; SQLite: the insert, a write,
    waits for the write lock). When the row is new, a row of no host (written before
    counters were per host) takes its place: the first host to count that source claims it."""
    mine = counter_of(host, source)
    sql = (
        "INSERT INTO ingest_counter (host, source, format, path, last_read_at, samples, lines,"
        " events, ignored, malformed, unattributed, internal, expired)"
        f" VALUES ({placeholders(conn, 6)}, 0, 0, 0, 0, 0, 0, 0)"
        " ON CONFLICT (host, source) DO NOTHING"
    )
    params = (host, source, fmt, path, now, "[]")
    if (await conn.exec_driver_sql(sql, params)).rowcount == 1 and host:
        await conn.execute(COUNTER.delete().where(mine))  # its zeros: nothing is lost
        unhosted = counter_of("", source)
        claim = await conn.execute(COUNTER.update().where(unhosted).values(host=host))
        if claim.rowcount == 0:  # none, or another host claimed it first
            await conn.exec_driver_sql(sql, params)
    row = (await conn.execute(select(COUNTER).where(mine).with_for_update())).mappings().one()
    return dict(row)


async def _add_counters(
    conn: AsyncConnection,
    host: str,
    source: str,
    fmt: str,
    path: str,
    agg: BatchAggregate,
    stats: ParseStats,
    now: float,
) -> None:
    row = await counter_row(conn, host, source, fmt, path, now)
    samples = json.loads(row["samples"] or "[]")
    samples = (samples + stats.samples)[-MAX_SAMPLES:]
    await write_counters(
        conn, host, source, format=fmt, path=path,
        **{c: row[c] + getattr(stats, c) for c in STAT_COLS},
        last_event_at=later(row["last_event_at"], agg.last_event_at), last_read_at=now,
        samples=json.dumps(samples), error=None,
    )  # fmt: skip


def later(a: float | None, b: float | None) -> float | None:
    """The later of two optional times."""
    return b if a is None else a if b is None else max(a, b)


async def _move_checkpoint(
    conn: AsyncConnection,
    source: str,
    expected: SavedCheckpoint | None,
    saved: SavedCheckpoint,
    now: float,
    host: str = "",
) -> None:
    state = json.dumps(saved.parser_state)
    cp = saved.checkpoint
    if expected is None:
        sql = (
            'INSERT INTO source_checkpoint (host, path, source, dev, inode, "offset",'
            f" first_line_hash, parser_state, updated_at) VALUES ({placeholders(conn, 9)})"
            " ON CONFLICT (host, path) DO NOTHING"
        )
        params: tuple[object, ...] = (
            host, cp.path, source, cp.dev, cp.inode, cp.offset, cp.first_line_hash, state, now,
        )  # fmt: skip
    else:
        # Moving a row of no host (from before positions were per host) claims it.
        marks = placeholders(conn, 13).split(", ")
        sql = (
            f"UPDATE source_checkpoint SET host = {marks[0]}, source = {marks[1]},"
            f' dev = {marks[2]}, inode = {marks[3]}, "offset" = {marks[4]},'
            f" first_line_hash = {marks[5]}, parser_state = {marks[6]}, updated_at = {marks[7]}"
            f" WHERE host = {marks[8]} AND path = {marks[9]} AND inode = {marks[10]}"
            f' AND "offset" = {marks[11]} AND first_line_hash = {marks[12]}'
        )
        params = (
            host, source, cp.dev, cp.inode, cp.offset, cp.first_line_hash, state, now,
            expected.host, cp.path, expected.checkpoint.inode, expected.checkpoint.offset,
            expected.checkpoint.first_line_hash,
        )  # fmt: skip
    result = await conn.exec_driver_sql(sql, params)
    if result.rowcount != 1:
        raise CheckpointConflict(f"{cp.path}: position moved by another writer")


async def record_source_error(
    engine: AsyncEngine,
    source: str,
    fmt: str,
    path: str,
    error: str | None,
    now: float,
    host: str = "",
) -> None:
    """Remember (or clear) ``host``'s read error of ``source`` for ``status``; counters are
    left as they are."""
    async with engine.begin() as conn:
        await counter_row(conn, host, source, fmt, path, now)
        await write_counters(conn, host, source, error=error)
