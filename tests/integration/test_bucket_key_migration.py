"""Migrations v021 and v022 on a database whose buckets and signature hits are keyed IP
first: every row is kept, both tables become keyed time first, and the ingest's upserts
still add into a row, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.storage.checkpoints import _upsert_buckets
from opsconsole.storage.db import open_database
from opsconsole.storage.migrations import v022_signature_hit_time_first as v022
from opsconsole.storage.migrations.v007_providers import BUCKET_COLUMNS

BUCKETS = [
    ("192.0.2.1", "", "gmail", 1772355600, 5, 1, 1, 0, 0, 0),
    ("192.0.2.1", "a", "gmail", 1772355660, 2, 0, 0, 0, 3, 0),
    ("192.0.2.2", "", "", 1772355600, 0, 4, 2, 2, 0, 1),
]
HITS = [
    ("192.0.2.1", "gmail", "spamhaus", 1772355600, 2),
    ("192.0.2.2", "microsoft", "s3150", 1772355660, 1),
]
OLD = {  # table: (columns, v007's key, rows, the version that rekeys it)
    "bucket": (BUCKET_COLUMNS, "ip, subuser, provider, minute", BUCKETS, 21),
    "signature_hit": (v022.COLUMNS, "ip, provider, signature, minute", HITS, 22),
}
KEYS = {
    "bucket": ["minute", "ip", "subuser", "provider"],
    "signature_hit": ["minute", "ip", "provider", "signature"],
}


async def _keys(engine) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return {
            t: (await conn.run_sync(lambda c, t=t: inspect(c).get_pk_constraint(t)))[
                "constrained_columns"
            ]
            for t in KEYS
        }


async def test_ip_first_tables_are_rekeyed_time_first(db_url: str) -> None:
    engine = await open_database(db_url)
    async with engine.begin() as conn:  # back to v007's keys, with rows in them
        wr = " WITHOUT ROWID" if conn.dialect.name == "sqlite" else ""
        for table, (cols, key, rows, version) in OLD.items():
            await conn.execute(text(f"DROP TABLE {table}"))
            await conn.execute(text(f"CREATE TABLE {table} ({cols}, PRIMARY KEY ({key})){wr}"))
            marks = ", ".join(f":c{i}" for i in range(len(rows[0])))
            for r in rows:
                await conn.execute(
                    text(f"INSERT INTO {table} VALUES ({marks})"),
                    {f"c{i}": v for i, v in enumerate(r)},
                )
            await conn.execute(text(f"DELETE FROM schema_version WHERE version = {version}"))
    await engine.dispose()
    engine = await open_database(db_url)  # runs v021 and v022
    try:
        assert await _keys(engine) == KEYS
        async with engine.begin() as conn:
            agg = BatchAggregate()
            agg.buckets[("192.0.2.1", "", "gmail", 1772355600)] = [1, 2, 1, 1, 0, 0]
            agg.signature_hits[("192.0.2.1", "gmail", "spamhaus", 1772355600)] = 3
            await _upsert_buckets(conn, agg)
            buckets = (await conn.execute(text("SELECT * FROM bucket"))).all()
            hits = (await conn.execute(text("SELECT * FROM signature_hit"))).all()
        want = {r[:4]: r for r in BUCKETS}
        want[BUCKETS[0][:4]] = ("192.0.2.1", "", "gmail", 1772355600, 6, 3, 2, 1, 0, 0)
        assert {tuple(r)[:4]: tuple(r) for r in buckets} == want
        want_hits = {r[:4]: r for r in HITS}
        want_hits[HITS[0][:4]] = ("192.0.2.1", "gmail", "spamhaus", 1772355600, 5)
        assert {tuple(r)[:4]: tuple(r) for r in hits} == want_hits
    finally:
        await engine.dispose()


async def test_a_new_database_is_keyed_time_first(db_url: str) -> None:
    engine = await open_database(db_url)
    try:
        assert await _keys(engine) == KEYS
    finally:
        await engine.dispose()
