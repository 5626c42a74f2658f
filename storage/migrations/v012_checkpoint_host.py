"""File positions are per (host, path): every host of a fleet follows /var/log/mail.log,
and one shared position per path made each host read the others' offsets as a rotation
and count lines again. Existing rows keep host '' (a reader claims them on its first
commit). Idempotent: a new database gets the key from the table definition in step 1."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSION = 12

_COLUMNS = 'path, source, dev, inode, "offset", first_line_hash, parser_state, updated_at'


def up(conn: Connection) -> None:
    if "host" in {c["name"] for c in inspect(conn).get_columns("source_checkpoint")}:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE source_checkpoint ADD COLUMN host TEXT NOT NULL DEFAULT ''"))
        conn.execute(text("ALTER TABLE source_checkpoint DROP CONSTRAINT source_checkpoint_pkey"))
        conn.execute(text("ALTER TABLE source_checkpoint ADD PRIMARY KEY (host, path)"))
        return
    conn.execute(
        text(
            "CREATE TABLE source_checkpoint_new (host VARCHAR NOT NULL DEFAULT '',"
            " path VARCHAR NOT NULL, source VARCHAR NOT NULL, dev INTEGER NOT NULL,"
            ' inode INTEGER NOT NULL, "offset" INTEGER NOT NULL,'
            " first_line_hash VARCHAR NOT NULL, parser_state VARCHAR NOT NULL,"
            " updated_at FLOAT NOT NULL, PRIMARY KEY (host, path))"
        )
    )
    conn.execute(
        text(
            f"INSERT INTO source_checkpoint_new (host, {_COLUMNS})"
            f" SELECT '', {_COLUMNS} FROM source_checkpoint"
        )
    )
    conn.execute(text("DROP TABLE source_checkpoint"))
    conn.execute(text("ALTER TABLE source_checkpoint_new RENAME TO source_checkpoint"))
