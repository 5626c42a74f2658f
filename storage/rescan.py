"""``ingest --rescan``: swap what a file contributed for a fresh reading, in ONE transaction.

The caller hands over both readings as aggregates: ``old`` (bytes [0, checkpoint) read
again with the parameters they were read with, see core/sources/reading.py) and ``new``
(the file read now with the new flags). Here, in one transaction: the checkpoint moves by
compare-and-swap from the position the old reading describes (a concurrent reader makes
it fail and nothing is written), the old reading's bucket and signature counts are taken
off and the new one's put on, the source's ingest counters likewise, its bounce samples
of the old reading's time range are replaced, and the fleet's ip_host rows get the new IPs.

Retention. A bucket row the old reading counted into but that no longer exists was
dropped by retention: the new reading writes nothing at or before the newest such minute
(it never resurrects what retention dropped). Everything newer is written, old-dated or
not, exactly as an explicit ``ingest`` writes an old file: retention only runs in the
engine (hourly), so a report right after the rescan shows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsconsole.core.aggregate import BatchAggregate, item_order, table_order
from opsconsole.core.ports import SavedCheckpoint
from opsconsole.core.sources.base import ParseStats
from opsconsole.storage import fleet
from opsconsole.storage.checkpoints import (
    COUNTER,
    STAT_COLS,
    _insert_samples,
    _move_checkpoint,
    counter_row,
    later,
    write_counters,
)
from opsconsole.storage.sql import executemany, placeholders

COLS = ("delivered", "bounced", "hard", "soft", "deferred", "complaints")

Totals = dict[str, list[int]]  # ip -> the six bucket counters summed over all minutes


@dataclass
class Outcome:
    before: Totals
    after: Totals
    skipped_minutes: int  # new-reading bucket rows not written (retention had dropped them)


async def commit_rescan(
    engine: AsyncEngine,
    *,
    host: str,
    source: str,
    fmt: str,
    expected: SavedCheckpoint,
    new_checkpoint: SavedCheckpoint,
    old: tuple[BatchAggregate, ParseStats],
    new: tuple[BatchAggregate, ParseStats],
    now: float,
    dry_run: bool = False,
) -> Outcome:
    """Apply the swap (or, with ``dry_run``, compute it and roll back)."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            out = await _swap(conn, host, source, fmt, expected, new_checkpoint, old, new, now)
        except BaseException:
            await trans.rollback()
            raise
        if dry_run:
            await trans.rollback()
        else:
            await trans.commit()
        return out


async def _swap(
    conn: AsyncConnection,
    host: str,
    source: str,
    fmt: str,
    expected: SavedCheckpoint,
    new_checkpoint: SavedCheckpoint,
    old: tuple[BatchAggregate, ParseStats],
    new: tuple[BatchAggregate, ParseStats],
    now: float,
) -> Outcome:
    await _move_checkpoint(conn, source, expected, new_checkpoint, now, host)
    if expected.host not in (host, ""):
        await _forget_host(conn, expected.host, source, new_checkpoint.checkpoint.path)
    old_agg, old_stats = old
    new_agg, new_stats = new
    ips = sorted({k[0] for k in old_agg.buckets} | {k[0] for k in new_agg.buckets})
    before = await _ip_totals(conn, ips)
    floor, skipped = await _swap_buckets(conn, old_agg, new_agg)
    await _swap_hits(conn, old_agg, new_agg, floor)
    await _swap_samples(conn, source, old_agg, new_agg)
    stats = (old_stats, new_stats)
    await _swap_counters(conn, expected.host, host, source, fmt, stats, new_agg, now)
    seen: dict[str, float] = {}
    for ip, *_, minute in new_agg.buckets:
        if ip and minute > floor and minute > seen.get(ip, -1.0):
            seen[ip] = float(minute)
    await fleet.record_batch_hosts(conn, host, source, list(seen.items()), now)
    after = await _ip_totals(conn, ips)
    return Outcome(before, after, skipped)


async def _ip_totals(conn: AsyncConnection, ips: list[str]) -> Totals:
    """Each of ``ips``' counters over all its buckets, in one grouped pass over the table
    (keyed time first: a query per IP, or per chunk of IPs, would each be a pass)."""
    out: Totals = {ip: [0] * 6 for ip in ips}
    sums = ", ".join(f"SUM({c})" for c in COLS)
    for ip, *counts in await conn.execute(text(f"SELECT ip, {sums} FROM bucket GROUP BY ip")):
        if ip in out:
            out[ip] = [int(v or 0) for v in counts]
    return out


async def _existing(
    conn: AsyncConnection, table: str, key_cols: str, val_cols: str, keys: Iterable[tuple[Any, ...]]
) -> dict[tuple[Any, ...], list[int]]:
    """The stored rows of ``keys`` (minute last): one pass over their minutes, the tables
    being keyed time first (rows of other keys in that window are passed over)."""
    wanted = set(keys)
    if not wanted:
        return {}
    minutes = [int(k[-1]) for k in wanted]
    rows = await conn.execute(
        text(f"SELECT {key_cols}, {val_cols} FROM {table} WHERE minute >= :lo AND minute <= :hi"),
        {"lo": min(minutes), "hi": max(minutes)},
    )
    nk = len(key_cols.split(", "))
    found: dict[tuple[Any, ...], list[int]] = {}
    for r in rows:
        k = tuple(r[:nk])
        if k in wanted:
            found[k] = [int(v) for v in r[nk:]]
    return found


async def _swap_buckets(
    conn: AsyncConnection, old: BatchAggregate, new: BatchAggregate
) -> tuple[float, int]:
    """Returns the retention floor (newest minute of a dropped old row, or -inf) and how
    many new rows it kept out."""
    keys = "ip, subuser, provider, minute"
    cur = await _existing(conn, "bucket", keys, ", ".join(COLS), [*old.buckets, *new.buckets])
    had = set(cur)
    floor = float("-inf")
    changed: set[tuple[Any, ...]] = set()
    for k, counts in old.buckets.items():
        row = cur.get(k)
        if row is None:
            floor = max(floor, float(k[3]))
            continue
        cur[k] = [max(0, a - b) for a, b in zip(row, counts, strict=True)]
        changed.add(k)
    skipped = 0
    for k, counts in new.buckets.items():
        if k[3] <= floor:
            skipped += 1
            continue
        row = cur.get(k, [0] * 6)
        cur[k] = [a + b for a, b in zip(row, counts, strict=True)]
        changed.add(k)
    await _write(conn, "bucket", keys, COLS, {k: cur[k] for k in changed}, had)
    return floor, skipped


async def _swap_hits(
    conn: AsyncConnection, old: BatchAggregate, new: BatchAggregate, floor: float
) -> None:
    keys = "ip, provider, signature, minute"
    cur = await _existing(
        conn, "signature_hit", keys, "hits", [*old.signature_hits, *new.signature_hits]
    )
    had = set(cur)
    changed: set[tuple[Any, ...]] = set()
    for k, n in old.signature_hits.items():
        if k in cur:
            cur[k] = [max(0, cur[k][0] - n)]
            changed.add(k)
    for k, n in new.signature_hits.items():
        if k[3] > floor:
            cur[k] = [cur.get(k, [0])[0] + n]
            changed.add(k)
    await _write(conn, "signature_hit", keys, ("hits",), {k: cur[k] for k in changed}, had)


async def _write(
    conn: AsyncConnection,
    table: str,
    key_cols: str,
    val_cols: tuple[str, ...],
    rows: dict[tuple[Any, ...], list[int]],
    had: set[tuple[Any, ...]],
) -> None:
    keys = key_cols.split(", ")
    nk, nv = len(keys), len(val_cols)
    # in the tables' key order, as every writer locks rows (core/aggregate.py table_order)
    gone = sorted((k for k, v in rows.items() if not any(v) and k in had), key=table_order)
    kept = sorted(((k, v) for k, v in rows.items() if any(v)), key=item_order)
    marks = placeholders(conn, nv + nk).split(", ")
    where = " AND ".join(f"{c} = {m}" for c, m in zip(keys, marks[nv:], strict=True))
    sets = ", ".join(f"{c} = {m}" for c, m in zip(val_cols, marks[:nv], strict=True))
    await executemany(
        conn,
        f"UPDATE {table} SET {sets} WHERE {where}",
        [(*v, *k) for k, v in kept if k in had],
    )
    await executemany(
        conn,
        f"INSERT INTO {table} ({key_cols}, {', '.join(val_cols)})"
        f" VALUES ({placeholders(conn, nk + nv)})",
        [(*k, *v) for k, v in kept if k not in had],
    )
    dmarks = placeholders(conn, nk).split(", ")
    dwhere = " AND ".join(f"{c} = {m}" for c, m in zip(keys, dmarks, strict=True))
    await executemany(conn, f"DELETE FROM {table} WHERE {dwhere}", gone)


async def _swap_samples(
    conn: AsyncConnection, source: str, old: BatchAggregate, new: BatchAggregate
) -> None:
    """Bounce samples are illustrations (a bounded few per IP per batch), not counts: the
    source's samples in the old reading's time range are replaced by the new reading's,
    except those older than the oldest one retention left of that range."""
    floor = float("-inf")
    if old.samples:
        lo = min(e.ts for e in old.samples)
        hi = max(e.ts for e in old.samples)
        params = {"s": source, "lo": lo, "hi": hi}
        where = "source = :s AND ts >= :lo AND ts <= :hi"
        row = (
            await conn.execute(text(f"SELECT MIN(ts) FROM bounce_sample WHERE {where}"), params)
        ).first()
        oldest = row[0] if row is not None else None
        floor = hi if oldest is None else float(oldest)
        if oldest is not None and oldest <= lo:
            floor = float("-inf")
        await conn.execute(text(f"DELETE FROM bounce_sample WHERE {where}"), params)
    keep = BatchAggregate()
    keep.samples = [e for e in new.samples if e.ts >= floor]
    await _insert_samples(conn, keep, source)


async def _swap_counters(
    conn: AsyncConnection,
    old_host: str,
    host: str,
    source: str,
    fmt: str,
    stats: tuple[ParseStats, ParseStats],
    new_agg: BatchAggregate,
    now: float,
) -> None:
    """The old reading's counts leave the row they were added to (``old_host``'s, when the
    position was another host's; a row of no host is ``host``'s to claim), the new
    reading's join ``host``'s row."""
    old, new = stats
    if old_host not in (host, ""):
        c = COUNTER.c
        await write_counters(conn, old_host, source, **{
            k: case((c[k] > getattr(old, k), c[k] - getattr(old, k)), else_=0)
            for k in STAT_COLS
        })  # fmt: skip
        old = ParseStats()
    row = await counter_row(conn, host, source, fmt, source, now)
    await write_counters(
        conn, host, source, format=fmt, last_read_at=now,
        last_event_at=later(row["last_event_at"], new_agg.last_event_at),
        **{k: max(0, int(row[k] or 0) - getattr(old, k)) + getattr(new, k) for k in STAT_COLS},
    )  # fmt: skip


async def checkpoint_source(engine: AsyncEngine, host: str, path: str) -> str | None:
    """The source name that last moved the (host, path) position (its counters' key)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT source FROM source_checkpoint WHERE host = :h AND path = :p"),
                {"h": host, "p": path},
            )
        ).first()
    return str(row[0]) if row is not None else None


async def positions_of(engine: AsyncEngine, path: str) -> list[SavedCheckpoint]:
    """Every host's position of ``path`` (a rescan with the right ``--host`` finds the one a
    wrong host recorded)."""
    from opsconsole.core.sources.tail import Checkpoint

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT * FROM source_checkpoint WHERE path = :p ORDER BY host"), {"p": path}
            )
        ).all()
    return [
        SavedCheckpoint(Checkpoint.from_row(r), json.loads(r.parser_state or "{}"), r.host)
        for r in rows
    ]


async def _forget_host(conn: AsyncConnection, old_host: str, source: str, path: str) -> None:
    """The position moved to another host: ``old_host`` no longer reads ``source`` (unless it
    still has another file of it), so its ip_host rows and counters of that source go."""
    others = (
        await conn.execute(
            text(
                "SELECT count(*) FROM source_checkpoint"
                " WHERE host = :h AND source = :s AND path <> :p"
            ),
            {"h": old_host, "s": source, "p": path},
        )
    ).scalar()
    if not others:
        for table in ("ip_host", "ingest_counter"):
            await conn.execute(
                text(f"DELETE FROM {table} WHERE host = :h AND source = :s"),
                {"h": old_host, "s": source},
            )
