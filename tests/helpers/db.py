"""Read a test database directly, whichever backend its URL names (SQLite or PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opsconsole.storage.db import sqlite_path
from tests.helpers import pg


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def rows(url: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Rows of one query written with ``?`` placeholders (``r[0]``, ``dict(r)``, unpacking);
    [] when the file or a table does not exist yet."""
    if is_postgres(url):
        return pg.query(url, sql, params)
    path = sqlite_path(url)
    if path is None or not path.exists():
        return []
    con = sqlite3.connect(path, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, tuple(params)).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    finally:
        con.close()


def reset(url: str) -> None:
    """Back to an empty database: the SQLite file and its WAL removed, or PostgreSQL's
    public schema dropped and recreated (any engine still connected must be gone)."""
    if is_postgres(url):
        pg.execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        return
    path = sqlite_path(url)
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
