"""Reputation tables (migration v005): the latest DNSBL answer per (ip, zone), listing
changes over time (the IP detail's timeline), zone and SNDS health, SNDS rows per IP and day.

SQLAlchemy Core tables on their own metadata, so storage/tables.py stays untouched.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

reputation = Table(
    "reputation",
    metadata,
    Column("ip", String(64), primary_key=True),
    Column("zone", String(255), primary_key=True),
    Column("listed", Boolean, nullable=False, default=False),
    Column("code", String(255), nullable=False, default=""),
    Column("meaning", Text, nullable=False, default=""),
    Column("severity", String(16), nullable=True),
    Column("refused", Boolean, nullable=False, default=False),
    Column("error", Text, nullable=True),
    Column("checked_at", Float, nullable=False),
)

reputation_change = Table(
    "reputation_change",
    metadata,
    Column("ip", String(64), primary_key=True),
    Column("source", String(255), primary_key=True),  # a zone, or "snds"
    Column("at", Float, primary_key=True),
    Column("state", String(32), nullable=False),  # listed | clear | GREEN | YELLOW | RED
    Column("detail", Text, nullable=False, default=""),
)

zone_health = Table(
    "zone_health",
    metadata,
    Column("zone", String(255), primary_key=True),
    Column("state", String(16), nullable=False),  # ok | dead | refused | error | unknown
    Column("reason", Text, nullable=False, default=""),
    Column("checked_at", Float, nullable=True),
    # v017: the last run's lookups and failed lookups, the last success and last error
    Column("lookups", Integer, nullable=False, default=0, server_default="0"),
    Column("failures", Integer, nullable=False, default=0, server_default="0"),
    Column("last_ok_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
)

snds = Table(
    "snds",
    metadata,
    Column("ip", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # ISO date of the activity start
    Column("activity_start", String(32), nullable=False, default=""),
    Column("activity_end", String(32), nullable=False, default=""),
    Column("rcpt", Integer, nullable=False, default=0),
    Column("data", Integer, nullable=False, default=0),
    Column("recipients", Integer, nullable=False, default=0),
    Column("filter", String(8), nullable=False),
    Column("complaint_rate", Float, nullable=True),
    Column("trap_hits", Integer, nullable=False, default=0),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("fetched_at", Float, nullable=False),
)

TABLES = (reputation, reputation_change, zone_health, snds)
