"""Outbox rows carry their notice's stable id and its place in the alert's transitions.

``seq``: the transition number of the notice within its alert (1 = opened ...);
``notice_id``: ``<alert id>:<seq>``, the id receivers deduplicate on. Rows written before
this step keep ``seq`` 0 and an empty ``notice_id`` (their body has none either).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

VERSION = 4


def up(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE outbox ADD COLUMN seq INTEGER NOT NULL DEFAULT 0"))
    conn.execute(text("ALTER TABLE outbox ADD COLUMN notice_id VARCHAR NOT NULL DEFAULT ''"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_outbox_alert ON outbox (alert_id, id)"))
