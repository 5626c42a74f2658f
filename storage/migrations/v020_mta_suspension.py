"""Provider suspensions reach the MTA (issue 12 point 1): the ledger of what was applied there
(``storage/mta_suspension_tables.py``). Idempotent: creates the table only when missing."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from opsconsole.storage import mta_suspension_tables

VERSION = 20


def up(conn: Connection) -> None:
    mta_suspension_tables.metadata.create_all(conn, checkfirst=True)
