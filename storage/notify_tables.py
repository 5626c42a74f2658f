"""The outbox as the notify code reads and writes it: ``tables.Outbox`` (created by v001)
plus the columns of migration v004 (``seq``, ``notice_id``). A Core table of its own
metadata, used for statements only; the schema itself comes from the migrations."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table

OUTBOX = Table(
    "outbox",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("notifier", String, nullable=False),
    Column("alert_id", String, nullable=False, default=""),
    Column("payload", String, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("last_error", String),
    Column("sent_at", Float),
    Column("seq", Integer, nullable=False, default=0),
    Column("notice_id", String, nullable=False, default=""),
)

__all__ = ["OUTBOX"]
