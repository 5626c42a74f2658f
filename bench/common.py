"""What every benchmark script shares: paths, timing a child process (wall, CPU, peak RSS
of that very child via ``wait4``), medians, result rows and the command line.

Each job script prints its rows, writes them as JSON to ``bench/out/<job>.json`` for
``run_all`` and exits 1 when a judged row misses its target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / "data"  # generated inputs (gitignored), reused across runs
OUT = BENCH / "out"  # per-job JSON rows and scratch databases (gitignored)

PY = sys.executable
OPSCONSOLE = str(Path(PY).parent / "opsconsole")  # the installed console script


@dataclass
class Proc:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    maxrss_mb: float  # peak resident set of the child (and its waited-for children)
    rc: int
    stdout: str = ""


TIME = "/usr/bin/time"  # GNU time: reports its child's own peak RSS (%M)


def run_child(cmd: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True) -> Proc:
    """Run ``cmd`` to completion and measure it alone: wall time, CPU (``wait4``) and peak
    RSS. Output goes through files so that ``wait4`` reaps the child.

    The peak RSS comes from GNU time when installed: Python spawns children with vfork, and
    Linux then carries the *parent's* peak RSS into the child's ``ru_maxrss`` at exec, so a
    large benchmark process would inflate every figure. GNU time's own fork is tiny."""
    OUT.mkdir(parents=True, exist_ok=True)
    rss_file = OUT / ".child.rss"
    rss_file.unlink(missing_ok=True)
    use_time = os.access(TIME, os.X_OK)
    full = [TIME, "-f", "%M", "-o", str(rss_file), *cmd] if use_time else list(cmd)
    with (
        open(OUT / ".child.out", "w+b") as fo,
        open(OUT / ".child.err", "w+b") as fe,
    ):
        started = time.perf_counter()
        p = subprocess.Popen(full, stdout=fo, stderr=fe, env=env, cwd=ROOT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - started
        p.returncode = rc = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if check and rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {rc}: {err.decode(errors='replace')[-800:]}")
    maxrss_kb = float(ru.ru_maxrss)
    if use_time:
        last = rss_file.read_text().split()
        if last and last[-1].isdigit():
            maxrss_kb = float(last[-1])
    return Proc(wall, ru.ru_utime + ru.ru_stime, maxrss_kb / 1024, rc, out.decode())


def count_lines(path: str | Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def alternate(
    repeat: int, first: Callable[[], Proc], second: Callable[[], Proc]
) -> tuple[list[Proc], list[Proc]]:
    """Run the two ``repeat`` times interleaved (a, b, a, b ...) so drift hits both alike."""
    a: list[Proc] = []
    b: list[Proc] = []
    for _ in range(repeat):
        a.append(first())
        b.append(second())
    return a, b


@dataclass
class Row:
    job: str
    value: str  # the job's figure, formatted
    baseline: str  # the baseline's figure, formatted
    ratio: str  # how the two compare, formatted
    target: str
    ok: bool | None  # None: informational, not judged
    note: str = ""
    raw: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


def print_rows(rows: Sequence[Row]) -> None:
    for r in rows:
        print(
            f"{r.verdict:4}  {r.job}: {r.value} vs {r.baseline} -> {r.ratio}"
            f" (target {r.target}){'  [' + r.note + ']' if r.note else ''}",
            flush=True,
        )


def finish(name: str, rows: Sequence[Row], smoke: bool) -> int:
    """Print the rows, save them for run_all; exit status 1 if a judged row failed
    (smoke runs are a sanity check of the scripts, never judged)."""
    if smoke:
        for r in rows:
            r.ok = None
            r.note = "smoke: not judged" + (f"; {r.note}" if r.note else "")
    print_rows(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 1 if any(r.ok is False for r in rows) else 0


def parser(description: str, repeat: int = 3) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, not judged")
    p.add_argument("--repeat", type=int, default=repeat, help="runs per side (median)")
    return p


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def db_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_db(src: Path, dst: Path) -> None:
    """A working copy of a (checkpointed) database, so a job never mutates the cache."""
    remove_db(dst)
    shutil.copyfile(src, dst)


def sqlite3_cli() -> str:
    path = shutil.which("sqlite3")
    if path is None:
        raise SystemExit(
            "bench: the sqlite3 command-line shell is needed (apt-get install sqlite3)"
        )
    return path


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cli = "?"
    with contextlib.suppress(OSError, subprocess.CalledProcessError, SystemExit):
        cli = subprocess.run(
            [sqlite3_cli(), "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    pfl = "?"
    with contextlib.suppress(OSError):
        pfl = (
            subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", "pflogsumm"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            or "?"
        )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite (python module)": sqlite3.sqlite_version,
        "sqlite3 CLI": cli,
        "pflogsumm": pfl,
    }
