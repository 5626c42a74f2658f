"""Job: a fleet on one database. N simulated hosts (10, 25, 50), each ingesting its own
log of 100 IPs at once (one ``opsconsole ingest`` process per host, ``OPSCONSOLE_HOST`` set),
into one PostgreSQL (a throwaway cluster, ``tests/helpers/pg.py``) and, for comparison, into
one SQLite file. Reported per backend and fleet size: ingest events/s over the whole fleet
(first start to last exit), one engine check (``run_check``, warm, median) and one report
(``build_report``, median), and how each grows with the number of hosts. Informational: a
table, no target.

    python -m bench.fleet [--smoke] [--repeat N]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PY, ROOT, Row, finish, fmt_ms, median, parser

SIZES = (10, 25, 50)
IPS_PER_HOST = 100
EVENTS_PER_IP = 100


def host_ips(i: int, n: int) -> list[str]:
    return [f"10.{i // 200}.{i % 200}.{k + 1}" for k in range(n)]


def write_logs(folder: Path, hosts: int, ips: int, per_ip: int, now: float) -> list[Path]:
    paths = []
    for i in range(hosts):
        path = folder / f"host{i:03d}.jsonl"
        with path.open("w") as f:
            for ip in host_ips(i, ips):
                for k in range(per_ip):
                    kind = "bounced" if k % 25 == 0 else "delivered"
                    ts = now - 1500 + (k * 1400 / per_ip)
                    f.write(json.dumps({"ts": round(ts, 3), "kind": kind, "ip": ip}) + "\n")
        paths.append(path)
    return paths


def ingest_fleet(db: str, logs: list[Path]) -> float:
    """Every host's ingest at once; seconds from the first start to the last exit."""
    # The schema first (as a fleet's first engine would): migrations are not the measure.
    subprocess.run([PY, "-m", "opsconsole", "--db", db, "status", "--json"],
                   capture_output=True, cwd=ROOT, check=False)  # fmt: skip
    started = time.perf_counter()
    procs = []
    for i, log in enumerate(logs):
        env = {**os.environ, "OPSCONSOLE_HOST": f"host{i:03d}"}
        cmd = [PY, "-m", "opsconsole", "--db", db, "ingest", str(log), "--format", "jsonl"]
        procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE))  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise RuntimeError(f"ingest exited {p.returncode}: {err.decode()[-500:]}")
    return time.perf_counter() - started


async def time_views(db: str, now: float, repeat: int) -> tuple[float, float, int]:
    from opsconsole.core.engine.check import run_check
    from opsconsole.core.views import build_report
    from opsconsole.settings import Settings
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config

    cfg = engine_config(Settings(db=db))
    store = await open_store(db)
    checks, reports = [], []
    try:
        await run_check(store, cfg, now, {})  # cold
        for _ in range(repeat):
            t = time.perf_counter()
            await run_check(store, cfg, now, {})
            checks.append(time.perf_counter() - t)
            t = time.perf_counter()
            rep = await build_report(store, cfg, now=now)
            reports.append(time.perf_counter() - t)
        hosts = len(rep["hosts"])
    finally:
        await store.close()
    return median(checks), median(reports), hosts


def measure(backend: str, db: str, hosts: int, smoke: bool, repeat: int, tmp: Path) -> dict:
    ips, per_ip = (10, 20) if smoke else (IPS_PER_HOST, EVENTS_PER_IP)
    now = time.time()
    folder = tmp / f"{backend}-{hosts}"
    folder.mkdir()
    logs = write_logs(folder, hosts, ips, per_ip, now)
    secs = ingest_fleet(db, logs)
    events = hosts * ips * per_ip
    check, report, seen = asyncio.run(time_views(db, now + 1, repeat))
    if seen != hosts:
        raise RuntimeError(f"{backend}: the report lists {seen} hosts, not {hosts}")
    return {
        "backend": backend, "hosts": hosts, "ips": hosts * ips, "events": events,
        "ingest_s": secs, "eps": events / secs, "check_s": check, "report_s": report,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "", repeat=3).parse_args(argv)
    sizes = (2, 5) if args.smoke else SIZES
    sys.path.insert(0, str(ROOT))
    from tests.helpers.pg import PgCluster, PgUnavailable

    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as t:
        tmp = Path(t)
        os.chmod(tmp, 0o755)
        for n in sizes:
            db = f"sqlite+aiosqlite:///{tmp / f'fleet-{n}.db'}"
            results.append(measure("sqlite", db, n, args.smoke, args.repeat, tmp))
        cluster = None
        try:
            cluster = PgCluster().start()
        except (PgUnavailable, RuntimeError) as e:
            print(f"postgres: skipped ({e})")
        if cluster is not None:
            try:
                for n in sizes:
                    with cluster.database() as url:
                        results.append(measure("postgres", url, n, args.smoke, args.repeat, tmp))
            finally:
                cluster.stop()
    print()
    head = f"{'backend':9} {'hosts':>5} {'IPs':>6} {'events':>8} {'ingest ev/s':>12}"
    head += f" {'check':>10} {'report':>10}   growth vs {sizes[0]} hosts (ev/s, check, report)"
    print(head)
    base = {r["backend"]: r for r in results if r["hosts"] == sizes[0]}
    rows = []
    for r in results:
        b = base[r["backend"]]
        growth = (f"x{r['eps'] / b['eps']:.2f}, x{r['check_s'] / b['check_s']:.2f},"
                  f" x{r['report_s'] / b['report_s']:.2f}")  # fmt: skip
        print(f"{r['backend']:9} {r['hosts']:>5} {r['ips']:>6} {r['events']:>8}"
              f" {r['eps']:>12,.0f} {fmt_ms(r['check_s']):>10} {fmt_ms(r['report_s']):>10}"
              f"   {growth}")  # fmt: skip
        lite = next(
            (x for x in results if x["backend"] == "sqlite" and x["hosts"] == r["hosts"]), None
        )
        if r["backend"] == "postgres" and lite is not None:
            figures = (
                ("ingest ev/s", "eps", lambda v: f"{v:,.0f}/s"),
                ("check", "check_s", fmt_ms),
                ("report", "report_s", fmt_ms),
            )
            for what, key, fmt in figures:
                rows.append(Row(
                    f"fleet {r['hosts']} hosts pg {what}", fmt(r[key]), f"sqlite {fmt(lite[key])}",
                    f"x{r[key] / lite[key]:.2f}", "-", None, f"growth vs {sizes[0]}: {growth}",
                ))  # fmt: skip
    if not rows:
        rows = [Row(f"fleet {r['hosts']} hosts sqlite", f"{r['eps']:,.0f}/s", "-", "-", "-", None)
                for r in results]  # fmt: skip
    return finish("fleet", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
