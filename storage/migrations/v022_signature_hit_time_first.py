"""Block-signature hits keyed time first, ``PRIMARY KEY (minute, ip, provider, signature)``,
WITHOUT ROWID: the reason v021 gave the buckets (a batch's rows land together; the reads
are windows of minutes, retention a leading range). On the 900-IP PowerMTA file a batch's
4k hits cost ~30 ms under the old key, most of it scattered index pages. How:
migrations/rekey.py."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from opsconsole.storage.migrations.rekey import rekey

VERSION = 22

COLUMNS = (
    "ip VARCHAR NOT NULL, provider VARCHAR NOT NULL, signature VARCHAR NOT NULL,"
    " minute INTEGER NOT NULL, hits INTEGER NOT NULL DEFAULT 0"
)
KEY = ["minute", "ip", "provider", "signature"]


def up(conn: Connection) -> None:
    rekey(conn, "signature_hit", COLUMNS, KEY)
