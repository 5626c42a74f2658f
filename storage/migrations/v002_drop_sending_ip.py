"""sending_ip was written on every batch and read by nothing."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

VERSION = 2


def up(conn: Connection) -> None:
    conn.execute(text("DROP TABLE IF EXISTS sending_ip"))
