"""Ingest counts Postfix content-filter hand-offs (``internal``) and qmgr ``expired``
notices apart: neither is a recipient outcome of a sending IP. Idempotent, because a new
database gets both columns from the current table definitions in step 1."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSION = 10


def up(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("ingest_counter")}
    for col in ("internal", "expired"):
        if col not in have:
            conn.execute(
                text(f"ALTER TABLE ingest_counter ADD COLUMN {col} INTEGER NOT NULL DEFAULT 0")
            )
