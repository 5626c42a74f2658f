"""Crash safety (issue 5.2): SIGKILL at random moments never loses or double-counts a line.

Two real processes are killed with ``os.kill(pid, SIGKILL)``: ``opsconsole ingest`` of a
300k-line PowerMTA file, and ``opsconsole --no-ui`` following a file that grows while it runs.
After every kill the database must hold *exactly* the events of the file's first
``checkpoint.offset`` bytes (the batch and its checkpoint commit together, or neither does),
counted independently here with ``csv``; after the last run it must equal the simulator's
Truth, and one more run adds nothing.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from opsconsole.simulator import Truth, generate_events, write_file
from tests.helpers.db import reset as reset_db
from tests.helpers.db import rows

KINDS = {"d": "delivered", "b": "bounced", "t": "deferred", "f": "complaints"}
Tally = dict[str, Counter[str]]


# --------------------------------------------------------------------------- independent count


class PmtaIndex:
    """Every event line of a simulator PowerMTA file with the byte offset where it ends, so
    that the events of any prefix of the file can be counted without the project's parser."""

    def __init__(self, path: Path, ip_map: dict[str, str]) -> None:
        self.ends: list[int] = []  # end offset (after "\n") of every line
        self.events: list[tuple[int, str, str]] = []  # (line index, ip or "", kind)
        header: dict[str, int] = {}
        offset = 0
        with path.open("rb") as f:
            for i, raw in enumerate(f):
                offset += len(raw)
                self.ends.append(offset)
                row = next(csv.reader([raw.decode("utf-8").rstrip("\n")]))
                if row[0] == "type":
                    header = {name: j for j, name in enumerate(row)}
                    continue
                kind = KINDS.get(row[0])
                if kind is None:
                    continue
                if kind == "complaints":
                    ip = row[header["repSourceIp"]]
                else:
                    ip = row[header["dlvSourceIp"]] or ip_map.get(row[header["vmta"]], "")
                self.events.append((i, ip, kind))

    def lines_before(self, offset: int) -> int:
        """Complete lines within the first ``offset`` bytes."""
        import bisect

        return bisect.bisect_right(self.ends, offset)

    def tally(self, offset: int) -> Tally:
        n = self.lines_before(offset)
        out: Tally = {}
        for i, ip, kind in self.events:
            if i >= n:
                break
            out.setdefault(ip, Counter())[kind] += 1
        return out


def truth_tally(truth: Truth) -> Tally:
    out: Tally = {}
    for ip, c in truth.per_ip.items():
        out[ip] = Counter({k: v for k, v in c.as_dict().items() if k in KINDS.values() and v})
    u = truth.unattributed.as_dict()
    if any(u[k] for k in KINDS.values()):
        out[""] = Counter({k: u[k] for k in KINDS.values() if u[k]})
    return out


# --------------------------------------------------------------------------- database reads


def db_tally(db: str) -> Tally:
    got = rows(
        db,
        "SELECT ip, sum(delivered), sum(bounced), sum(deferred), sum(complaints)"
        " FROM bucket GROUP BY ip",
    )
    out: Tally = {}
    for ip, *vals in got:
        c = Counter(dict(zip(KINDS.values(), (int(v) for v in vals), strict=True)))
        c = Counter({k: v for k, v in c.items() if v})
        if c:
            out[ip] = c
    return out


def db_checkpoint(db: str, path: Path) -> tuple[int, int]:
    """(committed offset, lines counted) for ``path``; (0, 0) before the first commit."""
    row = rows(db, 'SELECT "offset" FROM source_checkpoint WHERE path = ?', (str(path),))
    lines = rows(db, "SELECT sum(lines) FROM ingest_counter")
    return (int(row[0][0]) if row else 0), int(lines[0][0] or 0) if lines else 0


def lease_pid(db: str) -> int | None:
    """The pid of the engine holding an unexpired lease."""
    row = rows(db, "SELECT pid FROM lease WHERE expires_at > ?", (time.time(),))
    return int(row[0][0]) if row else None


def assert_prefix_exact(db: str, path: Path, index: PmtaIndex) -> int:
    """The database holds exactly the events of the committed prefix; return the offset."""
    offset, lines = db_checkpoint(db, path)
    assert db_tally(db) == index.tally(offset), f"not the prefix up to {offset}"
    assert lines == index.lines_before(offset)
    return offset


def wait_for_commit(db: str, path: Path, before: int, proc: subprocess.Popen[str]) -> None:
    """Return once ``path``'s checkpoint has moved past ``before`` or ``proc`` has ended."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if db_checkpoint(db, path)[0] > before:
            return
        time.sleep(0.02)


@pytest.fixture(params=["fast", "lines"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both PowerMTA paths of ``ingest``: the columnar backlog parser and the line parser
    (the CLI subprocesses inherit the switch)."""
    monkeypatch.setenv("OPSCONSOLE_INGEST_FAST", "1" if request.param == "fast" else "0")
    return str(request.param)


def opsconsole(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsconsole", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[arg-type]
    )


def kill9(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL ``proc`` if it still runs; True when the kill landed."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    return alive and proc.returncode == -signal.SIGKILL


# --------------------------------------------------------------------------- ingest


@pytest.fixture(scope="module")
def big_pmta(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth, PmtaIndex]:
    d = tmp_path_factory.mktemp("crash")
    path = d / "acct-big.csv"
    now = time.time()
    events = generate_events(None, 300_000, now - 6 * 3600, now - 120, seed=11)
    truth = write_file("pmta", str(path), events, seed=11, header_every=50_000)
    index = PmtaIndex(path, truth.ip_map)
    assert truth_tally(truth) == index.tally(path.stat().st_size)  # the index counts right
    return path, truth, index


@pytest.mark.slow
@pytest.mark.usefixtures("ingest_path")
def test_sigkill_ingest_at_random_points_then_rerun_is_exact(
    tmp_path: Path, big_pmta: tuple[Path, Truth, PmtaIndex], db_url: str
) -> None:
    path, truth, index = big_pmta
    size = path.stat().st_size
    rng = random.Random(os.environ.get("OPSCONSOLE_CRASH_SEED", "5"))
    db = db_url
    maps = [a for name, ip in truth.ip_map.items() for a in ("--ip-map", f"{name}={ip}")]
    cmd = ("--db", db, "ingest", str(path), "--format", "pmta", *maps)

    def reset() -> None:
        reset_db(db)

    # A clean run first: exact from scratch, and its duration bounds the random kill times.
    started = time.monotonic()
    clean = subprocess.run([sys.executable, "-m", "opsconsole", *cmd], capture_output=True)
    run_seconds = time.monotonic() - started
    assert clean.returncode == 0, clean.stderr
    assert db_tally(db) == truth_tally(truth)
    reset()

    kills, mid_run, completed, attempts = 0, 0, 0, 0
    while kills < 8 or mid_run < 3:
        attempts += 1
        assert attempts <= 30, f"{kills} kills, only {mid_run} mid-run after {attempts} tries"
        before = db_checkpoint(db, path)[0]
        proc = opsconsole(*cmd)
        if attempts % 2:
            # Kill anywhere within the run: start-up, parsing, a commit, the end.
            time.sleep(rng.uniform(0.05, min(max(2.0, 0.8 * run_seconds), run_seconds)))
        else:
            # Kill shortly after a commit moved the checkpoint: the backlog split commits
            # in a few large groups, so a kill at a uniform time rarely lands between two.
            wait_for_commit(db, path, before, proc)
            time.sleep(rng.uniform(0.0, 0.3))
        if kill9(proc):
            kills += 1
            offset = assert_prefix_exact(db, path, index)
            mid_run += before < offset < size
            continue
        # It finished before the kill: it must be complete and exact; start over.
        assert proc.returncode == 0, proc.stderr
        assert db_tally(db) == truth_tally(truth)
        completed += 1
        reset()

    final = subprocess.run(
        [sys.executable, "-m", "opsconsole", *cmd], capture_output=True, text=True
    )
    assert final.returncode == 0, final.stderr
    assert db_tally(db) == truth_tally(truth)
    assert db_checkpoint(db, path) == (size, truth.lines)
    again = subprocess.run(
        [sys.executable, "-m", "opsconsole", *cmd], capture_output=True, text=True
    )
    assert again.returncode == 0 and again.stdout.startswith("read 0 lines"), again.stdout
    assert db_tally(db) == truth_tally(truth)
    print(f"{kills} kills ({mid_run} mid-run), {completed} runs completed before their kill")


# --------------------------------------------------------------------------- following engine


def engine_config(tmp_path: Path, source: Path, ip_map: dict[str, str]) -> Path:
    cfg = tmp_path / "engine.toml"
    pairs = ", ".join(f'"{k}" = "{v}"' for k, v in ip_map.items())
    cfg.write_text(
        "[monitor]\n"
        'check_interval = "2s"\n'
        'lease_ttl = "2s"\n'  # a SIGKILLed leader's lease lapses quickly
        "[[sources]]\n"
        'name = "acct"\n'
        'format = "pmta"\n'
        f'path = "{source}"\n'
        f"ip_map = {{ {pairs} }}\n"
    )
    return cfg


class Appender(threading.Thread):
    """Appends ``data`` to ``path`` in random-sized pieces (cut anywhere, mid-line too)."""

    def __init__(self, path: Path, data: bytes, seconds: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.path, self.data, self.seconds = path, data, seconds
        self.rng = random.Random(seed)

    def run(self) -> None:
        steps = 60
        cuts = sorted(self.rng.randrange(len(self.data)) for _ in range(steps - 1))
        pos = 0
        with self.path.open("ab", buffering=0) as f:
            for cut in [*cuts, len(self.data)]:
                f.write(self.data[pos:cut])
                pos = cut
                time.sleep(self.seconds / steps)


@pytest.mark.slow
def test_sigkill_following_engine_while_file_grows_then_restart_is_exact(
    tmp_path: Path, db_url: str
) -> None:
    full = tmp_path / "full.csv"
    now = time.time()
    events = generate_events(None, 60_000, now - 3 * 3600, now - 120, seed=23)
    truth = write_file("pmta", str(full), events, seed=23, header_every=7_000)
    index = PmtaIndex(full, truth.ip_map)
    followed = tmp_path / "acct.csv"
    followed.touch()
    db = db_url
    cfg = engine_config(tmp_path, followed, truth.ip_map)
    args = ("--db", db, "--config", str(cfg), "--no-ui")
    # 12 s of growth: several runs (each waits for the lease, then 1-3.5 s) see new lines.
    writer = Appender(followed, full.read_bytes(), seconds=12.0, seed=3)
    writer.start()
    rng = random.Random(17)
    kills, progressed = 0, 0
    while writer.is_alive() or kills < 4:
        before = db_checkpoint(db, followed)[0]
        proc = opsconsole(*args)
        # The random kill point is taken from when this engine leads (the killed one's
        # lease lapses first, 2 s): a start slowed by load must not eat the whole window.
        lead_by = time.monotonic() + 30
        while lease_pid(db) != proc.pid and proc.poll() is None and time.monotonic() < lead_by:
            time.sleep(0.1)
        time.sleep(rng.uniform(1.0, 3.5))
        assert kill9(proc), f"the engine exited by itself: {proc.stderr}"
        kills += 1
        # A growing file: the committed offset is what counts; the file may be ahead.
        offset = assert_prefix_exact(db, followed, index)
        progressed += offset > before
    writer.join()
    assert progressed >= 2, f"the engine committed during only {progressed} of {kills} runs"

    size = followed.stat().st_size
    assert size == full.stat().st_size
    proc = opsconsole(*args)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        lease_pid(db) == proc.pid and db_checkpoint(db, followed)[0] == size
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert db_tally(db) == truth_tally(truth)
    assert db_checkpoint(db, followed) == (size, truth.lines)
    print(f"{kills} kills of the engine, {progressed} with progress")
