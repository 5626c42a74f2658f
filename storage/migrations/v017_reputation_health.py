"""Zone health with its numbers: how many lookups of the last run failed (timeouts,
SERVFAIL) out of how many, when the zone (or the SNDS import) last succeeded and its last
error. ``opsconsole status`` shows them per zone. Idempotent: a new database gets the
columns from the table definition in step 5."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSION = 17

_COLUMNS = (
    ("lookups", "INTEGER NOT NULL DEFAULT 0"),
    ("failures", "INTEGER NOT NULL DEFAULT 0"),
    ("last_ok_at", "FLOAT"),
    ("last_error", "TEXT"),
)


def up(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("zone_health")}
    for name, ddl in _COLUMNS:
        if name not in have:
            conn.execute(text(f"ALTER TABLE zone_health ADD COLUMN {name} {ddl}"))
