"""Edges of the command line an operator hits: a stop during start-up, an export over an
existing file, a command against a locked database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_sigterm_during_startup_is_a_clean_stop(tmp_path: Path) -> None:
    """What can be promised: once opsconsole runs its own code (here: it has begun opening
    the database, before the engine's event-loop handlers exist), SIGTERM is a clean stop.
    A signal before the interpreter has run any of our code cannot be handled by anyone,
    so the test waits for that observable point instead of guessing with a sleep."""
    path = tmp_path / "e.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "--db", f"sqlite+aiosqlite:///{path}", "--no-ui"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_export_over_an_existing_open_file_makes_it_private(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(0o644)
    db = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    assert run("--db", db, "pools", "add", "p", "192.0.2.1", "--create").returncode == 0
    r = run("--db", db, "report", "-f", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert out.read_text().startswith("{")


def test_locked_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    db = f"sqlite+aiosqlite:///{path}"
    assert run("--db", db, "pools", "add", "bulk", "192.0.2.1", "--create").returncode == 0
    lock = sqlite3.connect(path, timeout=1, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        env = dict(os.environ)
        r = subprocess.run(
            [sys.executable, "-c",
             "import opsconsole.storage.db as d; d.BUSY_TIMEOUT_MS = 500;"
             "from opsconsole.cli.app import main; import sys;"
             f"sys.argv = ['opsconsole', '--db', {db!r}, 'pools', 'add', 'bulk', '192.0.2.2'];"
             "main()"],
            capture_output=True, text=True, timeout=60, check=False, env=env,
        )  # fmt: skip
    finally:
        lock.rollback()
        lock.close()
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "locked" in lines[0], r.stderr
    assert "INSERT" not in r.stderr and "Traceback" not in r.stderr
