"""Tables of the journal and the MTA adapters (migration v006)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # hook | mta
    Column("key", String(64), nullable=False, default=""),
    Column("payload", Text, nullable=False),  # JSON
    Column("state", String(16), nullable=False),  # pending | running | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("holder", String(128), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("result", Text, nullable=True),  # JSON of the last attempt
)
Index("ix_journal_state_next", journal.c.state, journal.c.next_at)

# What opsconsole found in each thing it owns before its first write (``mta release``).
mta_original = Table(
    "mta_original",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("captured_at", Float, nullable=False),
    Column("value", Text, nullable=False),  # JSON
)

# Operator restores: until ``until`` the engine alerts but does not remove the IP again
# unless its rate is clearly worse (core.engine.holdoff).
restore_holdoff = Table(
    "restore_holdoff",
    metadata,
    Column("pool", String(128), primary_key=True),
    Column("ip", String(64), primary_key=True),
    Column("until", Float, nullable=False),
    Column("actor", String(128), nullable=False, default=""),
)
