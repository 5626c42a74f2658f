"""The first schema: every table of storage/tables.py V1_TABLES."""

from __future__ import annotations

from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from opsconsole.storage import tables

VERSION = 1


def up(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn, tables=[tables.table_of(t) for t in tables.V1_TABLES])
