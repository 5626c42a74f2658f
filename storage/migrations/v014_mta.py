"""Operator hold-offs remember the rates at the restore; removals by the engine expire; an
undone action is recorded once (issue 12). Idempotent: a new database already has all of it
from step 6 (the table definitions), so only missing columns and tables are added."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from opsconsole.storage import mta_tables

VERSION = 14

_COLUMNS = (
    ("bounce_rate", "FLOAT"),
    ("complaint_rate", "FLOAT"),
    ("created_at", "FLOAT NOT NULL DEFAULT 0"),
)


def up(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("restore_holdoff")}
    for name, ddl in _COLUMNS:
        if name not in have:
            conn.execute(text(f"ALTER TABLE restore_holdoff ADD COLUMN {name} {ddl}"))
    mta_tables.metadata.create_all(conn, tables=[mta_tables.removal_expiry, mta_tables.action_undo])
