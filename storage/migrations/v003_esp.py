"""ESP webhook events: the ids already counted (dedup across retries, replays and saved
payload files) and engagement (opens, clicks) per (ip, subuser, minute), never in sent."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

VERSION = 3


def up(conn: Connection) -> None:
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS esp_event ("
            " source VARCHAR(16) NOT NULL, event_id VARCHAR(512) NOT NULL,"
            " ts DOUBLE PRECISION NOT NULL, PRIMARY KEY (source, event_id))"
        )
    )
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_esp_event_ts ON esp_event (ts)"))
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS esp_engagement ("
            " ip VARCHAR NOT NULL, subuser VARCHAR NOT NULL, minute BIGINT NOT NULL,"
            " opens BIGINT NOT NULL DEFAULT 0, clicks BIGINT NOT NULL DEFAULT 0,"
            " PRIMARY KEY (ip, subuser, minute))"
        )
    )
