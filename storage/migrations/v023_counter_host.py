"""Ingest counters per (host, source). Keyed by source alone, the hosts of a fleet (each
naming its log "mta") added into one row, and three hosts starting on a new database at
once raced to insert it (a duplicate key stopped two of them). Rows keep the host they
were last written by (v011's column).

A ``source_stale`` alert is judged per host's source now, its subject ``source@host``: an
open one (and a silence) of a source that one host reads is renamed so, and goes on as
the same alert. How the key changes: migrations/rekey.py.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from opsconsole.storage.migrations.rekey import rekey

VERSION = 23

COLUMNS = (
    "host VARCHAR NOT NULL DEFAULT '', source VARCHAR NOT NULL,"
    " format VARCHAR NOT NULL DEFAULT '', path VARCHAR NOT NULL DEFAULT '',"
    " lines INTEGER NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0,"
    " ignored INTEGER NOT NULL DEFAULT 0, malformed INTEGER NOT NULL DEFAULT 0,"
    " unattributed INTEGER NOT NULL DEFAULT 0, internal INTEGER NOT NULL DEFAULT 0,"
    " expired INTEGER NOT NULL DEFAULT 0, last_event_at FLOAT, last_read_at FLOAT,"
    " samples VARCHAR NOT NULL DEFAULT '[]', error VARCHAR"
)


def up(conn: Connection) -> None:
    rekey(conn, "ingest_counter", COLUMNS, ["host", "source"])
    rows = conn.execute(text("SELECT source, host FROM ingest_counter WHERE host <> ''")).all()
    hosts: dict[str, set[str]] = {}
    for source, host in rows:
        hosts.setdefault(str(source), set()).add(str(host))
    for source, of in sorted(hosts.items()):
        if len(of) != 1:
            continue
        subject = f"{source}@{next(iter(of))}"  # as core.health names it
        old, new = f"source_stale||{source}", f"source_stale||{subject}"  # alerts.dedup_key's
        conn.execute(
            text(
                "UPDATE alert SET key = :new, subuser = :subject WHERE key = :old"
                " AND state <> 'resolved'"
            ),
            {"new": new, "old": old, "subject": subject},
        )
        renamed = {"new": new, "old": old}
        conn.execute(text("UPDATE silence SET key = :new WHERE key = :old"), renamed)
