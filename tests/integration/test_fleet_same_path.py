"""Issue 13.2: every host of a fleet follows the same path (/var/log/mail.log) into one
database. Positions are per (host, path): a second host never takes the first one's
offset (or inode) for its own file, so each host's file is counted once, exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def ingest(db: str, path: Path, host: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "opsconsole", "--db", db, "ingest", str(path), "--format", "jsonl"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "OPSCONSOLE_HOST": host},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def write(path: Path, ip: str, n: int) -> None:
    now = time.time()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        "".join(
            json.dumps({"ts": now - 100 + i / 10, "kind": "delivered", "ip": ip}) + "\n"
            for i in range(n)
        )
    )
    os.replace(tmp, path)  # a different file (inode) at the same path, as on another host


def sent(db: str) -> dict[str, int]:
    r = subprocess.run(
        [sys.executable, "-m", "opsconsole", "--db", db, "report", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return {row["ip"]: row["sent"] for row in json.loads(r.stdout)["ips"]}


def test_two_hosts_on_one_path_each_count_their_own_file_once(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'fleet.db'}"
    log = tmp_path / "mail.jsonl"
    write(log, "192.0.2.1", 300)
    ingest(db, log, "mx1")
    write(log, "192.0.2.2", 200)  # host mx2's own /var/log/mail.log
    ingest(db, log, "mx2")
    ingest(db, log, "mx2")  # again: nothing new
    assert sent(db) == {"192.0.2.1": 300, "192.0.2.2": 200}
