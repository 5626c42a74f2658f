"""Buckets per (ip, subuser, provider, minute); provider-scoped alerts, suspensions and
block-signature counts.

``bucket.provider``: ``''`` where the provider is unknown (rows counted before this step,
events that name no recipient domain), ``other`` for a domain outside the provider table.
The primary key changes, which SQLite cannot ALTER: the table is rebuilt inside this step,
every existing row copied under provider ``''``. PostgreSQL swaps the constraint in place.
Each part checks what is there first, so a database whose v001 already made a column (the
models in storage/tables.py carry it) passes through unchanged.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSION = 7

_COUNTERS = "delivered, bounced, hard, soft, deferred, complaints"
# The bucket's columns as SQLite DDL (v021 rebuilds the table again, under another key).
BUCKET_COLUMNS = (
    "ip VARCHAR NOT NULL, subuser VARCHAR NOT NULL, provider VARCHAR NOT NULL DEFAULT '',"
    " minute INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0,"
    " bounced INTEGER NOT NULL DEFAULT 0, hard INTEGER NOT NULL DEFAULT 0,"
    ' soft INTEGER NOT NULL DEFAULT 0, "deferred" INTEGER NOT NULL DEFAULT 0,'
    " complaints INTEGER NOT NULL DEFAULT 0"
)


def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def _bucket(conn: Connection) -> None:
    if "provider" in _columns(conn, "bucket"):
        return
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                f"CREATE TABLE bucket_v007 ({BUCKET_COLUMNS},"
                " PRIMARY KEY (ip, subuser, provider, minute)) WITHOUT ROWID"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO bucket_v007 (ip, subuser, provider, minute, {_COUNTERS})"
                f" SELECT ip, subuser, '', minute, {_COUNTERS} FROM bucket"
            )
        )
        conn.execute(text("DROP TABLE bucket"))
        conn.execute(text("ALTER TABLE bucket_v007 RENAME TO bucket"))
    else:
        conn.execute(text("ALTER TABLE bucket ADD COLUMN provider VARCHAR NOT NULL DEFAULT ''"))
        pk = inspect(conn).get_pk_constraint("bucket").get("name") or "bucket_pkey"
        conn.execute(text(f'ALTER TABLE bucket DROP CONSTRAINT "{pk}"'))
        conn.execute(text("ALTER TABLE bucket ADD PRIMARY KEY (ip, subuser, provider, minute)"))


def up(conn: Connection) -> None:
    _bucket(conn)
    if "provider" not in _columns(conn, "alert"):
        conn.execute(text("ALTER TABLE alert ADD COLUMN provider VARCHAR NOT NULL DEFAULT ''"))
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS provider_suspension (ip VARCHAR NOT NULL,"
            " provider VARCHAR NOT NULL, until FLOAT NOT NULL, reason VARCHAR NOT NULL DEFAULT '',"
            " alert_key VARCHAR NOT NULL DEFAULT '', created_at FLOAT NOT NULL,"
            " PRIMARY KEY (ip, provider))"
        )
    )
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS signature_hit (ip VARCHAR NOT NULL,"
            " provider VARCHAR NOT NULL, signature VARCHAR NOT NULL, minute INTEGER NOT NULL,"
            " hits INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (ip, provider, signature, minute))"
        )
    )
