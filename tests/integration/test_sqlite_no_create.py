"""storage/db.py opens a SQLite file read-write but never creates it after the first open:
a pooled connection opened once the file is gone fails instead of starting a new, empty
database (test_store_lost relies on it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from opsconsole.core.redact import sqlite_path
from opsconsole.storage.db import open_database


@pytest.mark.parametrize("name", ["ops.db", "with space.db", "hash#and,comma.db"])
def test_a_new_connection_after_the_file_is_gone_fails(tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    async def run() -> None:
        engine = await open_database(f"sqlite+aiosqlite:///{path}")
        try:
            assert path.is_file()  # created and migrated on first open
            assert sqlite_path(engine.url.render_as_string(hide_password=True)) == str(path)
            await engine.dispose()  # no pooled connection left
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            with pytest.raises(OperationalError, match="unable to open"):
                async with engine.connect() as conn:
                    await conn.exec_driver_sql("SELECT 1")
            assert not path.exists()
            await asyncio.sleep(0.2)  # aiosqlite's thread closes the failed connection
        finally:
            await engine.dispose()

    asyncio.run(run())
