"""Tables of the journal and the MTA adapters (migration v006; hold-off, expiry, undo: v014)."""

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
    # v014: the IP's rates at the restore ("clearly worse" is measured against them)
    Column("bounce_rate", Float, nullable=True),
    Column("complaint_rate", Float, nullable=True),
    Column("created_at", Float, nullable=False, default=0.0),
)

# v014: the expiry of each removal by the engine (core.holdoff): back by itself when healthy.
removal_expiry = Table(
    "removal_expiry",
    metadata,
    Column("pool", String(128), primary_key=True),
    Column("ip", String(64), primary_key=True),
    Column("until", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("extended", Integer, nullable=False, default=0),
)

# v014: audit entries that have been undone (``opsconsole undo``): never twice.
action_undo = Table(
    "action_undo",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=False),
    Column("actor", String(128), nullable=False),
    Column("at", Float, nullable=False),
)
