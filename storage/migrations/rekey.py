"""A table's primary key changed in place (v021, v022): SQLite cannot alter a key, so the
table is rebuilt (rows copied in the new key's order); PostgreSQL swaps the constraint. A
table already keyed so (a new database) passes through unchanged."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection


def rekey(conn: Connection, table: str, columns_ddl: str, key: list[str]) -> None:
    """``columns_ddl``: the table's columns as SQLite DDL (those it has now)."""
    found = inspect(conn)
    pk = found.get_pk_constraint(table)
    if list(pk.get("constrained_columns") or []) == key:
        return
    cols = ", ".join(key)
    if conn.dialect.name == "sqlite":
        names = ", ".join(f'"{c["name"]}"' for c in found.get_columns(table))
        new = f"{table}_rekeyed"
        conn.execute(
            text(f"CREATE TABLE {new} ({columns_ddl}, PRIMARY KEY ({cols})) WITHOUT ROWID")
        )
        conn.execute(
            text(f"INSERT INTO {new} ({names}) SELECT {names} FROM {table} ORDER BY {cols}")
        )
        conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text(f"ALTER TABLE {new} RENAME TO {table}"))
    else:
        conn.execute(
            text(f'ALTER TABLE {table} DROP CONSTRAINT "{pk.get("name") or table + "_pkey"}"')
        )
        conn.execute(text(f"ALTER TABLE {table} ADD PRIMARY KEY ({cols})"))
