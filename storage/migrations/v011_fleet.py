"""The fleet on one database (issue 13.4): which host reads which source and which IP, and
every engine's own heartbeat (leader or follower), so the views can group and filter by
host and show a host whose engine stopped reporting. Idempotent: the column is added only
where missing and the tables only where absent."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSION = 11


def up(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("ingest_counter")}
    if "host" not in have:
        conn.execute(text("ALTER TABLE ingest_counter ADD COLUMN host TEXT NOT NULL DEFAULT ''"))
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS ip_host ("
            " ip TEXT NOT NULL, host TEXT NOT NULL, source TEXT NOT NULL DEFAULT '',"
            " first_seen DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL,"
            " PRIMARY KEY (ip, host))"
        )
    )
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_ip_host_host ON ip_host (host)"))
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS engine_heartbeat ("
            " holder TEXT PRIMARY KEY, host TEXT NOT NULL, role TEXT NOT NULL,"
            " pid INTEGER NOT NULL DEFAULT 0, started_at DOUBLE PRECISION NOT NULL,"
            " seen_at DOUBLE PRECISION NOT NULL)"
        )
    )
