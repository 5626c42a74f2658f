"""The backend fixtures themselves: ids, a fresh database per test, loopback only."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url, text

from opsconsole.storage.db import MIGRATIONS, open_database
from tests.helpers import pg

PREFIX = {"sqlite": "sqlite+aiosqlite://", "postgres": "postgresql+asyncpg://"}


async def test_a_new_empty_database_of_the_backend(db_backend: str, db_url: str) -> None:
    assert db_url.startswith(PREFIX[db_backend])
    engine = await open_database(db_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM bucket"))).scalar() == 0
            got = (await conn.execute(text("SELECT version FROM schema_version"))).all()
            assert [v for (v,) in got] == [v for v, _ in MIGRATIONS]  # every step, once
    finally:
        await engine.dispose()


def test_postgres_listens_on_loopback_only(db_backend: str, db_url: str) -> None:
    if db_backend != "postgres":
        pytest.skip("PostgreSQL's settings")
    assert make_url(db_url).host == "127.0.0.1"
    assert pg.query(db_url, "SHOW listen_addresses")[0][0] == "127.0.0.1"
    assert pg.query(db_url, "SHOW fsync")[0][0] == "off"


@pytest.mark.sqlite_only
def test_sqlite_only_keeps_a_test_on_sqlite(db_backend: str, db_url: str) -> None:
    assert db_backend == "sqlite" and db_url.startswith(PREFIX["sqlite"])
