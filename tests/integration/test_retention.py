from __future__ import annotations

from sqlalchemy import text

from opsconsole.settings import RetentionSettings
from opsconsole.storage.db import open_database
from opsconsole.storage.retention import analyze, prune

NOW = 1_800_000_000.0
DAY = 86400


async def test_prune_keeps_what_is_inside_retention(db_url: str) -> None:
    engine = await open_database(db_url)
    try:
        async with engine.begin() as conn:
            for minute in (NOW - 91 * DAY, NOW - 89 * DAY, NOW - 60):
                await conn.execute(
                    text(
                        "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft,"
                        " deferred, complaints) VALUES ('192.0.2.1', '', :m, 1, 0, 0, 0, 0, 0)"
                    ),
                    {"m": int(minute) // 60 * 60},
                )
            for ts in (NOW - 8 * DAY, NOW - 6 * DAY):
                await conn.execute(
                    text("INSERT INTO bounce_sample (ts, ip, subuser, rcpt_domain, status, hard,"
                         " diag, source)"
                         " VALUES (:ts, '192.0.2.1', '', 'x', '5.1.1', true, '', 's')"),
                    {"ts": ts},
                )  # fmt: skip
        deleted = await prune(engine, RetentionSettings(), NOW)
        assert deleted["bucket"] == 1
        assert deleted["bounce_sample"] == 1
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM bucket"))).scalar() == 2
            assert (await conn.execute(text("SELECT count(*) FROM bounce_sample"))).scalar() == 1
        await analyze(engine)
        async with engine.connect() as conn:
            stats_table = (
                "sqlite_stat1"
                if conn.dialect.name == "sqlite"
                else "pg_stats WHERE schemaname = current_schema() AND tablename = 'bucket'"
            )
            stats = (await conn.execute(text(f"SELECT count(*) FROM {stats_table}"))).scalar()
        assert stats and stats > 0
    finally:
        await engine.dispose()
