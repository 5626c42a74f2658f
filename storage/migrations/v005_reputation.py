"""Reputation: DNSBL results, listing changes, zone/SNDS health and SNDS rows."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from opsconsole.storage import reputation_tables

VERSION = 5


def up(conn: Connection) -> None:
    reputation_tables.metadata.create_all(conn, tables=list(reputation_tables.TABLES))
