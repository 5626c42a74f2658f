"""Issue 18.5: deleting the database files under a running engine is noticed at once.

Before: the engine wrote on into the unlinked file and lost everything silently. Now it
logs one clear line, acts no more, and exits non-zero so systemd restarts it (which then
creates and migrates a fresh database, visibly empty).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Harness


@pytest.mark.sqlite_only
def test_engine_stops_when_its_database_file_is_deleted(harness: Harness) -> None:
    h = harness
    h.write_config()
    h.write_traffic(h.traffic("10.5.0.1", 50, 1))
    ep = h.start_engine()
    h.wait_for_leader(ep)
    h.wait_until(lambda: h.totals()["delivered"] == 49, 10, "the engine to read the traffic")
    # At once, while the engine may still open its first pooled connections: one opened
    # after the unlink must fail, not create a new empty file (storage/db.py, mode=rw).
    for suffix in ("", "-wal", "-shm"):
        p = h.db_path.with_name(h.db_path.name + suffix)
        if p.exists():
            os.unlink(p)
    code = ep.proc.wait(15)
    assert code != 0
    assert ep.says("was deleted under the running engine"), ep.describe()
    assert not h.db_path.exists()  # it wrote nothing more, not even a new empty file
