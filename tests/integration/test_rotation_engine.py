"""Rotation while the real engine (``opsconsole --no-ui``) follows a file (issue 5.3).

One engine process follows ``acct.csv`` (a ``[[sources]]`` entry) while the test rotates it
the way logrotate does: rename-and-create with the writer still appending to the old file
for a while, copytruncate once the engine has caught up (lines written between the last
read and the truncation are lost by design of copytruncate, so the test does not write
any), and a rename-and-create while the engine is stopped, with lines written to both the
old and the new file before it starts again. Every chunk of lines is a simulator file whose
Truth is known; at the end the buckets must equal the sum of the Truths: nothing lost,
nothing counted twice.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from opsconsole.simulator import Scenario, Truth, generate_events, write_file
from tests.helpers.db import rows
from tests.helpers.waiting import wait_for

KINDS = ("delivered", "bounced", "deferred", "complaints")
Tally = dict[str, Counter[str]]


def chunk(tmp: Path, seed: int, n: int = 3000) -> tuple[bytes, Truth]:
    """``n`` events of PowerMTA accounting (its own header first) and their Truth."""
    now = time.time()
    path = tmp / f"chunk-{seed}.csv"
    truth = write_file("pmta", str(path), generate_events(None, n, now - 3000, now - 60, seed))
    return path.read_bytes(), truth


def add(total: Tally, truth: Truth) -> None:
    for ip, c in truth.per_ip.items():
        total.setdefault(ip, Counter()).update({k: v for k, v in c.as_dict().items() if k in KINDS})
    u = truth.unattributed.as_dict()
    total.setdefault("", Counter()).update({k: u[k] for k in KINDS})


def clean(t: Tally) -> Tally:
    return {ip: +c for ip, c in t.items() if +c}


class Db:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, sql: str, *params: object) -> list[Any]:
        return rows(self.url, sql, params)  # [] while the schema is not created yet

    def tally(self) -> Tally:
        got = self.query(
            "SELECT ip, sum(delivered), sum(bounced), sum(deferred), sum(complaints)"
            " FROM bucket GROUP BY ip"
        )
        return clean(
            {ip: Counter(dict(zip(KINDS, map(int, vals), strict=True))) for ip, *vals in got}
        )

    def lines(self) -> int:
        rows = self.query("SELECT sum(lines) FROM ingest_counter")
        return int(rows[0][0] or 0) if rows else 0

    def leader_pid(self) -> int | None:
        rows = self.query("SELECT pid FROM lease WHERE expires_at > ?", time.time())
        return rows[0][0] if rows else None


class Engine:
    """``opsconsole --no-ui`` as a child process."""

    def __init__(self, db: Db, config: Path) -> None:
        self.db, self.config = db, config
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opsconsole", "--db", self.db.url, "--config",
             str(self.config), "--no-ui"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(lambda: self.db.leader_pid() == self.proc.pid, "the engine to lead")  # type: ignore[union-attr]

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        assert "Traceback" not in err, err
        self.proc = None
        return err

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def test_rename_copytruncate_and_rotation_while_down(tmp_path: Path, db_url: str) -> None:
    log = tmp_path / "acct.csv"
    cfg = tmp_path / "opsconsole.toml"
    ip_map = ", ".join(f'"{k}" = "{v}"' for k, v in Scenario.default().ip_map("pmta").items())
    cfg.write_text(
        '[monitor]\nlease_ttl = "3s"\n'
        f'[[sources]]\nname = "acct"\nformat = "pmta"\npath = "{log}"\n'
        f"ip_map = {{ {ip_map} }}\n"
    )
    db = Db(db_url)
    engine = Engine(db, cfg)
    expected: Tally = {}
    lines = 0
    seed = iter(range(100, 200))

    def write(f, n: int = 3000) -> None:  # type: ignore[no-untyped-def]
        nonlocal lines
        data, truth = chunk(tmp_path, next(seed), n)
        f.write(data)
        f.flush()
        add(expected, truth)
        lines += truth.lines

    def caught_up(what: str) -> None:
        wait_for(lambda: db.lines() == lines, f"{what}: {lines} lines read")
        assert db.tally() == clean(expected), what

    writer = log.open("ab")
    engine.start()
    try:
        write(writer)
        caught_up("first file")

        # rename-and-create while following; the writer keeps appending to the old file
        # until it reopens.
        os.rename(log, tmp_path / "acct.csv.1")
        write(writer)
        new = log.open("ab")
        write(new)
        write(writer, 500)
        writer.close()
        writer = new
        caught_up("rename-and-create")

        # copytruncate once the engine has caught up.
        shutil.copyfile(log, tmp_path / "acct.csv.1")
        os.truncate(log, 0)
        write(writer, 1000)
        caught_up("copytruncate (smaller)")
        write(writer, 4000)
        caught_up("after copytruncate")
        shutil.copyfile(log, tmp_path / "acct.csv.1")
        os.truncate(log, 0)
        write(writer, 6000)  # the new content outgrows the old offset before the next poll
        caught_up("copytruncate (regrown)")

        # Rotation while the engine is down: more lines in the old file after the rename,
        # and in the new one, before it starts again.
        engine.stop()
        write(writer, 700)
        os.rename(log, tmp_path / "acct.csv.1")
        write(writer, 900)
        new = log.open("ab")
        write(new, 1100)
        writer.close()
        writer = new
        engine.start()
        caught_up("rotation while down")

        # A restart with nothing new reads nothing again.
        engine.stop()
        engine.start()
        write(writer, 300)
        caught_up("after a clean restart")
        engine.stop()
    finally:
        writer.close()
        engine.kill()
    assert db.tally() == clean(expected)
    assert db.lines() == lines
