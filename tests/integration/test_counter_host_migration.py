"""Migration v023 on a database whose ingest counters are keyed by source alone: the rows
keep their counts under the host that last wrote them, the key becomes (host, source), an
open ``source_stale`` alert (and its silence) of a one-host source goes on under its new
subject ``source@host``, and batches add into their own host's row, on SQLite and
PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.sources.base import ParseStats
from opsconsole.storage.checkpoints import write_aggregate
from opsconsole.storage.db import open_database
from opsconsole.storage.migrations import v023_counter_host as v023
from opsconsole.storage.tables import Alert, Silence, table_of

NOW = 1_800_000_000.0


async def _to_v022(db_url: str) -> None:
    engine = await open_database(db_url)
    async with engine.begin() as conn:
        wr = " WITHOUT ROWID" if conn.dialect.name == "sqlite" else ""
        await conn.execute(text("DROP TABLE ingest_counter"))
        await conn.execute(
            text(f"CREATE TABLE ingest_counter ({v023.COLUMNS}, PRIMARY KEY (source)){wr}")
        )
        for source, host, lines in (("mta", "mx1", 10), ("hooks/sendgrid", "", 3)):
            await conn.execute(
                text(
                    "INSERT INTO ingest_counter (host, source, lines, events)"
                    " VALUES (:h, :s, :n, :n)"
                ),
                {"h": host, "s": source, "n": lines},
            )
        key = "source_stale||mta"
        await conn.execute(
            table_of(Alert)
            .insert()
            .values(
                id="a1",
                key=key,
                rule="source_stale",
                subuser="mta",
                severity="warning",
                opened_at=NOW,
                last_seen_at=NOW,
            )
        )
        await conn.execute(table_of(Silence).insert().values(key=key, until=NOW + 3600))
        await conn.execute(text("DELETE FROM schema_version WHERE version = 23"))
    await engine.dispose()


async def test_counters_are_rekeyed_by_host_and_the_stale_alert_follows(db_url: str) -> None:
    await _to_v022(db_url)
    engine = await open_database(db_url)  # runs v023
    try:
        async with engine.begin() as conn:
            pk = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("ingest_counter"))
            assert pk["constrained_columns"] == ["host", "source"]
            for host, source, n in (
                ("mx1", "mta", 5),
                ("mx2", "mta", 7),
                ("mx2", "hooks/sendgrid", 2),
            ):
                await write_aggregate(
                    conn, source=source, fmt="jsonl", path="/var/log/x", agg=BatchAggregate(),
                    stats=ParseStats(lines=n, events=n), now=NOW, host=host,
                )  # fmt: skip
            rows = await conn.execute(
                text("SELECT host, source, lines, events FROM ingest_counter ORDER BY host, source")
            )
            assert [tuple(r) for r in rows] == [
                ("mx1", "mta", 15, 15),
                ("mx2", "hooks/sendgrid", 5, 5),  # the row of no host: claimed by its reader
                ("mx2", "mta", 7, 7),
            ]
            alert = (await conn.execute(text("SELECT key, subuser, state FROM alert"))).one()
            assert tuple(alert) == ("source_stale||mta@mx1", "mta@mx1", "firing")
            silence = (await conn.execute(text("SELECT key FROM silence"))).scalar()
            assert silence == "source_stale||mta@mx1"
    finally:
        await engine.dispose()


async def test_a_new_database_keys_counters_by_host(db_url: str) -> None:
    engine = await open_database(db_url)
    try:
        async with engine.connect() as conn:
            pk = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("ingest_counter"))
        assert pk["constrained_columns"] == ["host", "source"]
    finally:
        await engine.dispose()


async def test_hosts_writing_at_once_each_count_exactly(db_url: str) -> None:
    """Three hosts' first batches at once on a new database (each inserting its row) and
    four batches of one host at once (adding into one row): no duplicate key, no lost add."""
    import asyncio

    engine = await open_database(db_url)

    async def batch(host: str, n: int) -> None:
        async with engine.begin() as conn:
            await write_aggregate(
                conn, source="mta", fmt="jsonl", path="/var/log/mail.log", agg=BatchAggregate(),
                stats=ParseStats(lines=n, events=n), now=NOW, host=host,
            )  # fmt: skip

    try:
        await asyncio.gather(*(batch(h, 1) for h in ("mx-a", "mx-b", "mx-c")))
        await asyncio.gather(*(batch("mx-a", 10) for _ in range(4)))
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT host, lines FROM ingest_counter ORDER BY host"))
            assert [tuple(r) for r in rows] == [("mx-a", 41), ("mx-b", 1), ("mx-c", 1)]
    finally:
        await engine.dispose()
