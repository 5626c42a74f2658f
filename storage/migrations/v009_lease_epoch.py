"""The lease's epoch: it grows by one each time the lease changes hands, and every write
of a check is fenced on it (a leader that lost the lease commits nothing)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

VERSION = 9


def up(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE lease ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0"))
