"""A real sqlite3 implementation of the receiver's ``store`` port, for tests.

One file database, one table with a UNIQUE (source, event_id): a batch is inserted with
``INSERT OR IGNORE`` in one transaction and the number of new rows returned, which is the
contract the production storage implements. ``fail_next`` makes the next call raise, to
prove the receiver answers 503 and stores nothing it acknowledged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from opsconsole.core.events import Event

_DDL = """
CREATE TABLE IF NOT EXISTS esp_events (
    source TEXT NOT NULL, event_id TEXT NOT NULL, ts REAL NOT NULL, kind INTEGER NOT NULL,
    ip TEXT, subuser TEXT, hard INTEGER NOT NULL, rcpt_domain TEXT NOT NULL,
    status TEXT NOT NULL, diag TEXT NOT NULL,
    UNIQUE (source, event_id)
)
"""


class SqliteEventStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls = 0
        self.fail_next = 0
        with sqlite3.connect(path) as db:
            db.execute(_DDL)

    async def __call__(
        self, source: str, items: list[tuple[str, Event]], engaged: object = ()
    ) -> int:
        self.calls += 1
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("disk I/O error (simulated)")
        return await asyncio.to_thread(self._insert, source, items)

    def _insert(self, source: str, items: list[tuple[str, Event]]) -> int:
        rows = [
            (
                source,
                eid,
                ev.ts,
                int(ev.kind),
                ev.ip,
                ev.subuser,
                int(ev.hard),
                ev.rcpt_domain,
                ev.status,
                ev.diag,
            )
            for eid, ev in items
        ]
        db = sqlite3.connect(self.path)
        try:
            with db:  # one transaction
                before = db.total_changes
                db.executemany(
                    "INSERT OR IGNORE INTO esp_events VALUES (?,?,?,?,?,?,?,?,?,?)", rows
                )
                return db.total_changes - before
        finally:
            db.close()

    def counts(self) -> dict[tuple[str, str | None, str | None, int], int]:
        """(source, ip, subuser, kind) -> stored events."""
        with sqlite3.connect(self.path) as db:
            rows = db.execute(
                "SELECT source, ip, subuser, kind, count(*) FROM esp_events "
                "GROUP BY source, ip, subuser, kind"
            ).fetchall()
        return {(r[0], r[1], r[2], r[3]): r[4] for r in rows}

    def total(self) -> int:
        with sqlite3.connect(self.path) as db:
            return int(db.execute("SELECT count(*) FROM esp_events").fetchone()[0])
