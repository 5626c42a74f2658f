"""The journal of side effects (hooks, MTA applies), the MTA originals, operator hold-offs."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from opsconsole.storage import mta_tables

VERSION = 6


def up(conn: Connection) -> None:
    mta_tables.metadata.create_all(conn)
