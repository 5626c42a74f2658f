"""Job: peak memory of the headless engine (``opsconsole --no-ui``) following 4 sources
(pmta, postfix, kumo, jsonl files) for 5,000 IPs. Target: < 200 MB RSS. No baseline.

A fleet of four MTAs, 1,250 IPs each (one simulator scenario per MTA, every IP in that
MTA's rotation pool; one bad, one warning, one critical IP per MTA), each MTA writing its
own log format. The files start with the last hour's traffic (the backlog the engine reads
on start); once it has read everything, two more slices of traffic are appended while it
follows them, then a check runs and it is stopped with SIGTERM. Peak RSS is the engine's
VmHWM (read from /proc while it runs and just before SIGTERM); VmRSS at the end is noted.

    python -m bench.memory_follow [--smoke]
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.common import OPSCONSOLE, OUT, ROOT, Row, count_lines, db_url, finish, parser, remove_db
from bench.datagen import ip_list

TARGET_MB = 200
FORMATS = ("pmta", "postfix", "kumo", "jsonl")
EXT = {"pmta": "csv", "postfix": "log", "kumo": "jsonl", "jsonl": "jsonl"}


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def write_config(path: Path, db: Path, sources: list[tuple[str, Path, object]]) -> None:
    lines = [
        f"db = {toml_str(db_url(db))}",
        "[monitor]",
        'check_interval = "5s"',
        "",
    ]
    for fmt, file, sc in sources:
        ip_map = ", ".join(f"{toml_str(k)} = {toml_str(v)}" for k, v in sc.ip_map(fmt).items())
        lines += [
            "[[sources]]",
            f'name = "{fmt}"',
            f'format = "{fmt}"',
            f"path = {toml_str(str(file))}",
            f"ip_map = {{ {ip_map} }}",
            "",
        ]
    for _, _, sc in sources:
        for name, members in sc.pools.items():
            ms = ", ".join(f"{{ ip = {toml_str(ip)} }}" for ip in members)
            lines += ["[[pools]]", f"name = {toml_str(name)}", f"members = [{ms}]", ""]
    path.write_text("\n".join(lines))


def append_traffic(fmt: str, file: Path, sc: object, n: int, start: float, end: float, seed: int):
    from opsconsole.simulator import generate_events, write_file

    part = file.with_suffix(".part")
    write_file(
        fmt, str(part), generate_events(sc, n, start, end, seed=seed), scenario=sc, seed=seed
    )
    with open(file, "ab") as out, open(part, "rb") as src:
        out.write(src.read())
    part.unlink()


def file_lines(files: list[Path]) -> int:
    return sum(count_lines(f) for f in files)


def lines_read(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(
                con.execute("SELECT coalesce(sum(lines), 0) FROM ingest_counter").fetchone()[0]
            )
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def vm(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


samples: list[float] = []  # VmHWM read while waiting


def wait_read(p: subprocess.Popen, db: Path, want: int, timeout: float) -> float:
    started = time.monotonic()
    while lines_read(db) < want:
        samples.append(vm(p.pid, "VmHWM"))
        if p.poll() is not None:
            raise RuntimeError(f"engine exited {p.returncode}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"engine read {lines_read(db)} of {want} lines in {timeout}s")
        time.sleep(0.25)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    from opsconsole.simulator import Scenario

    args = parser(__doc__ or "", repeat=1).parse_args(argv)
    per_mta, backlog, slice_n = (50, 5_000, 1_000) if args.smoke else (1250, 150_000, 25_000)
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / "follow"
    work.mkdir(exist_ok=True)
    db = work / "engine.db"
    remove_db(db)
    ips = ip_list(per_mta * 4)
    now = time.time()
    sources = []
    for k, fmt in enumerate(FORMATS):
        mine = ips[k * per_mta : (k + 1) * per_mta]
        sc = Scenario.from_ips(
            mine, pool=f"mta{k + 1}", bad=mine[0], warning=mine[1], critical=mine[2]
        )
        file = work / f"{fmt}.{EXT[fmt]}"
        file.unlink(missing_ok=True)
        append_traffic(fmt, file, sc, backlog, now - 3600, now - 120, seed=k + 1)
        sources.append((fmt, file, sc))
    config = work / "config.toml"
    write_config(config, db, sources)
    files = [f for _, f, _ in sources]

    env = {**os.environ, "OPSCONSOLE_DB": db_url(db)}
    cmd = [OPSCONSOLE, "--config", str(config), "--no-ui"]
    log = open(work / "engine.log", "wb")  # noqa: SIM115
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        backlog_s = wait_read(p, db, file_lines(files), 300)
        for i in range(2):
            t0 = time.time()
            for k, (fmt, file, sc) in enumerate(sources):
                append_traffic(fmt, file, sc, slice_n, t0 - 60, t0, seed=100 + 10 * i + k)
            wait_read(p, db, file_lines(files), 120)
        time.sleep(6)  # at least one more check (check_interval 5s) on everything
        end_rss = vm(p.pid, "VmRSS")
        hwm = vm(p.pid, "VmHWM")
        p.send_signal(signal.SIGTERM)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    except BaseException:
        p.kill()
        p.wait()
        raise
    finally:
        log.close()
    # VmHWM, not ru_maxrss: a vfork'ed child's ru_maxrss includes this (parent) process's
    # peak, and this process ran the simulator. VmHWM is reset at exec.
    peak = max(hwm, max(samples, default=0.0))
    del ru
    checks = (work / "engine.log").read_text(errors="replace").count("checked=True")
    row = Row(
        job=f"peak RSS, engine following 4 sources, {len(ips):,} IPs",
        value=f"{peak:.0f} MB",
        baseline="-",
        ratio="-",
        target=f"< {TARGET_MB} MB",
        ok=peak < TARGET_MB,
        note=f"RSS at the end {end_rss:.0f} MB; {file_lines(files):,} lines"
        f" (backlog read in {backlog_s:.1f} s), {checks} checks, exit {p.returncode}",
        raw={"peak_mb": peak, "end_mb": end_rss},
    )
    return finish("memory_follow", [row], args.smoke)


if __name__ == "__main__":
    sys.exit(main())
