"""Every list/show command, read through a pipe and through a terminal of 80 columns:
nothing cut in a pipe, ids, IPs, states and times whole on a terminal (issue 17)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.core.alerts import AlertState
from opsconsole.core.ports import Changes
from opsconsole.core.views import iso

EXE = [sys.executable, "-m", "opsconsole"]
LONG_POOL = "transactional-receipts-and-password-resets-eu-west"
LONG_TITLE = "Bounce rate 23.45% over 1h on 203.0.113.77 (yahoo, gmail, outlook all blocking)"
IP = "203.0.113.77"
WARM_IP = "198.51.100.201"
AT = time.time() - 120


def run(db: str, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "OPSCONSOLE_DB": db}
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=60, env=env, **kw)  # type: ignore[call-overload]


async def _seed_alert(url: str) -> None:
    from opsconsole.storage.store import open_store

    store = await open_store(url)
    alert = AlertState(
        id="a1b2c3d4e5f6", key=f"bounce_rate|{IP}|", rule="bounce_rate", ip=IP,
        subuser="vmta-transactional-eu", severity="critical", opened_at=AT, last_seen_at=AT,
        title=LONG_TITLE, message="m",
    )  # fmt: skip
    async with store.transaction() as tx:
        await tx.write(Changes(alerts=[alert]), AT)
    await store.close()


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    # A short folder of its own: `status` shows the database URL whole on one line, and
    # pytest's basetemp is longer under xdist (.../pytest-N/popen-gw0/...), which alone
    # would push that line past 80 columns.
    root = Path(tempfile.mkdtemp(prefix="oc-out-"))
    try:
        url = f"sqlite+aiosqlite:///{root / 'o.db'}"
        for args in (
            ("pools", "add", LONG_POOL, IP, "--create"),
            ("warmup", "start", WARM_IP, "--pool", LONG_POOL),
            ("pools", "remove", LONG_POOL, IP, "--reason", "spamhaus listing " + "x" * 60),
        ):
            r = run(url, *args)
            assert r.returncode == 0, r.stderr
        asyncio.run(_seed_alert(url))
        yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)


# command -> values that must appear whole in its output
COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("alerts", "list"): ["a1b2c3d4e5f6", "critical", "firing", LONG_TITLE, IP, iso(AT) or ""],
    ("audit",): [LONG_POOL, IP, WARM_IP, "remove", "spamhaus listing " + "x" * 60],
    ("pools", "list"): [LONG_POOL, IP, WARM_IP, "removed", "warming"],
    ("warmup", "list"): [WARM_IP, LONG_POOL, "six-week", "warming"],
    ("warmup", "history", WARM_IP): [WARM_IP, "start_warmup"],
    ("status",): ["DEGRADED", "no engine holds the lease"],
    ("report",): [IP, WARM_IP, LONG_POOL, "removed", LONG_TITLE],
    ("check", IP): ["15m", "1h", "24h"],
}


def exit_of(cmd: tuple[str, ...]) -> int:
    """status exits 1 here: degraded, no engine has run on this database (issue 13.5)."""
    return 1 if cmd[0] == "status" else 0


ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.mark.parametrize("cmd", list(COMMANDS), ids=" ".join)
def test_pipe_at_80_columns_cuts_nothing(db: str, cmd: tuple[str, ...]) -> None:
    r = run(db, *cmd)
    assert r.returncode == exit_of(cmd), r.stderr
    for value in COMMANDS[cmd]:
        assert value in r.stdout, (value, r.stdout)
    assert not set("│┃━─…") & set(r.stdout), r.stdout  # no box, no ellipsis
    assert "\x1b" not in r.stdout  # no colour in a pipe
    if cmd[0] in ("audit", "alerts", "warmup"):
        assert ISO.search(r.stdout), r.stdout


def test_grep_firing_finds_the_alert(db: str) -> None:
    r = subprocess.run(
        f"{sys.executable} -m opsconsole alerts list | grep firing", shell=True,
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80", "OPSCONSOLE_DB": db},
    )  # fmt: skip
    assert r.returncode == 0
    assert r.stdout.count("\n") == 1 and "a1b2c3d4e5f6" in r.stdout and IP in r.stdout


@pytest.mark.parametrize("cmd", list(COMMANDS), ids=" ".join)
def test_formats_json_and_csv(db: str, cmd: tuple[str, ...]) -> None:
    if cmd == ("report",):
        assert json.loads(run(db, *cmd, "--json").stdout)["pools"]
        return
    r = run(db, *cmd, "--format", "json")
    assert r.returncode == exit_of(cmd), r.stderr
    json.loads(r.stdout)
    assert json.loads(run(db, *cmd, "--json").stdout) == json.loads(r.stdout)
    c = run(db, *cmd, "--format", "csv")
    assert c.returncode == exit_of(cmd), c.stderr
    assert "DEGRADED" not in c.stdout


def _tty(db: str, *args: str, width: int = 80) -> str:
    """Run under a pseudo-terminal of ``width`` columns; what the terminal shows."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    env = {**os.environ, "OPSCONSOLE_DB": db, "TERM": "xterm", "NO_COLOR": "1"}
    env.pop("COLUMNS", None)
    p = subprocess.Popen([*EXE, *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=30)
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode())
    assert p.returncode == exit_of(args), text
    return text


TTY_WHOLE: dict[tuple[str, ...], list[str]] = {
    ("alerts", "list"): ["a1b2c3d4e5f6", "critical", "firing", IP, iso(AT) or ""],
    ("audit",): [IP, WARM_IP, "start_warmup"],
    ("pools", "list"): [IP, WARM_IP, "removed", "warming"],
    ("warmup", "list"): [WARM_IP, "warming"],
    ("warmup", "history", WARM_IP): ["start_warmup"],
    ("status",): ["DEGRADED"],
    ("check", IP): ["15m", "24h"],
}


@pytest.mark.parametrize("cmd", list(TTY_WHOLE), ids=" ".join)
def test_terminal_at_80_keeps_ids_ips_states_times_whole(db: str, cmd: tuple[str, ...]) -> None:
    text = _tty(db, *cmd)
    for value in TTY_WHOLE[cmd]:
        assert value in text, (value, text)
    assert all(len(line) <= 80 for line in text.replace("\r", "").splitlines()), text


def test_terminal_wide_shows_every_column(db: str) -> None:
    narrow = _tty(db, "alerts", "list")
    wide = _tty(db, "alerts", "list", "--wide", width=200)
    assert "vmta-transactional-eu" in wide
    assert "vmta-transactional-eu" not in narrow and "--wide" in narrow


def test_times_say_utc(db: str) -> None:
    for cmd in (("alerts", "list"), ("audit",), ("warmup", "list"), ("status",)):
        assert "UTC" in run(db, *cmd).stdout, cmd
