"""Migration v021 on a database whose buckets are keyed IP first: every row is kept, the key
becomes (minute, ip, subuser, provider), and the ingest's upsert still adds into a row, on
SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.storage.checkpoints import _upsert_buckets
from opsconsole.storage.db import open_database
from opsconsole.storage.migrations.v007_providers import BUCKET_COLUMNS

ROWS = [
    ("192.0.2.1", "", "gmail", 1772355600, 5, 1, 1, 0, 0, 0),
    ("192.0.2.1", "a", "gmail", 1772355660, 2, 0, 0, 0, 3, 0),
    ("192.0.2.2", "", "", 1772355600, 0, 4, 2, 2, 0, 1),
]


async def test_ip_first_buckets_are_rekeyed_time_first(db_url: str) -> None:
    engine = await open_database(db_url)
    async with engine.begin() as conn:  # back to v007's key, with rows in it
        await conn.execute(text("DROP TABLE bucket"))
        wr = " WITHOUT ROWID" if conn.dialect.name == "sqlite" else ""
        await conn.execute(
            text(
                f"CREATE TABLE bucket ({BUCKET_COLUMNS},"
                f" PRIMARY KEY (ip, subuser, provider, minute)){wr}"
            )
        )
        for r in ROWS:
            await conn.execute(
                text("INSERT INTO bucket VALUES (:a, :b, :c, :d, :e, :f, :g, :h, :i, :j)"),
                dict(zip("abcdefghij", r, strict=True)),
            )
        await conn.execute(text("DELETE FROM schema_version WHERE version = 21"))
    await engine.dispose()
    engine = await open_database(db_url)  # runs v021
    try:
        async with engine.begin() as conn:
            pk = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("bucket"))
            assert pk["constrained_columns"] == ["minute", "ip", "subuser", "provider"]
            agg = BatchAggregate()
            agg.buckets[("192.0.2.1", "", "gmail", 1772355600)] = [1, 2, 1, 1, 0, 0]
            await _upsert_buckets(conn, agg)
            got = (await conn.execute(text("SELECT * FROM bucket"))).all()
        want = {r[:4]: r for r in ROWS}
        want[ROWS[0][:4]] = ("192.0.2.1", "", "gmail", 1772355600, 6, 3, 2, 1, 0, 0)
        assert {tuple(r)[:4]: tuple(r) for r in got} == want
    finally:
        await engine.dispose()


async def test_a_new_database_is_keyed_time_first(db_url: str) -> None:
    engine = await open_database(db_url)
    try:
        async with engine.connect() as conn:
            pk = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("bucket"))
        assert pk["constrained_columns"] == ["minute", "ip", "subuser", "provider"]
    finally:
        await engine.dispose()
