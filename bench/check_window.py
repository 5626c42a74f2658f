"""Job: one engine check (``opsconsole.core.engine.check.run_check``: window stats, pools,
plans, alerts, the policy, persisting) over 5,000 IPs with 24 h of minute buckets
(7.2M rows, every IP in 500-member pools), against the ``sqlite3`` CLI running the window
aggregate query over the same buckets. Target: median <= 2x.

The check runs in-process on a warm engine, as the running engine does every
check_interval; the first (cold) check is reported apart. Measured on the database as the
application leaves it (no ANALYZE: judged) and again after ANALYZE (informational).

    python -m bench.check_window [--smoke] [--repeat N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bench.common import (
    OUT,
    Row,
    copy_db,
    db_url,
    finish,
    fmt_ms,
    median,
    parser,
    remove_db,
    run_child,
    sqlite3_cli,
)
from bench.datagen import END, bucket_store

TARGET = 2.0
WINDOW_SQL = (
    "SELECT ip, subuser, sum(delivered), sum(bounced), sum(hard), sum(soft), sum(deferred),"
    " sum(complaints) FROM bucket WHERE minute >= {lo} AND minute < {hi} GROUP BY ip, subuser"
)


async def time_checks(db: Path, config: Path, now: float, repeat: int) -> list[float]:
    from opsconsole.core.engine.check import run_check
    from opsconsole.settings import load_settings
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config

    settings = load_settings(config, db=db_url(db))
    store = await open_store(settings.db)
    cfg = engine_config(settings)
    times = []
    try:
        for _ in range(repeat + 1):  # the first one cold (connection, caches, alerts opening)
            started = time.perf_counter()
            await run_check(store, cfg, now, {})
            times.append(time.perf_counter() - started)
            now += 60  # a check a minute later, as the engine would
    finally:
        await store.close()
    return times


def cli_times(db: Path, sql: str, repeat: int) -> list[float]:
    cli = sqlite3_cli()
    run_child([cli, str(db), sql])  # warm the page cache like the engine's warm runs
    return [run_child([cli, str(db), sql]).wall for _ in range(repeat)]


def measure(db: Path, config: Path, repeat: int, label: str, judged: bool) -> Row:
    from opsconsole.core.windows import window_bounds

    now = END - 30
    lo, hi = window_bounds(now, 3600)
    # the checks below move `now` by a minute each; the baseline's window is the first one
    checks = asyncio.run(time_checks(db, config, now, repeat))
    base = cli_times(db, WINDOW_SQL.format(lo=lo, hi=hi), repeat)
    t, b = median(checks[1:]), median(base)
    ratio = t / b
    return Row(
        job=f"engine check, {label}",
        value=fmt_ms(t),
        baseline=f"{fmt_ms(b)} sqlite3 CLI",
        ratio=f"{ratio:.2f}x",
        target=f"median <= {TARGET:.0f}x",
        ok=(ratio <= TARGET) if judged else None,
        note=f"first (cold) check {fmt_ms(checks[0])}",
        raw={"seconds": t, "baseline_seconds": b, "ratio": ratio, "cold_seconds": checks[0]},
    )


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "", repeat=5).parse_args(argv)
    n_ips, minutes = (200, 120) if args.smoke else (5000, 1440)
    repeat = 2 if args.smoke else args.repeat
    src, config, rows_n = bucket_store("dense", n_ips, minutes=minutes)
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / "check.db"
    copy_db(src, work)  # checks write (alerts, members): never into the cached store
    size = f"{n_ips:,} IPs x {minutes} min ({rows_n / 1e6:.1f}M rows)"
    rows = [measure(work, config, repeat, f"{size}, no ANALYZE", judged=True)]
    run_child([sqlite3_cli(), str(work), "ANALYZE"])
    rows.append(measure(work, config, repeat, f"{size}, after ANALYZE", judged=False))
    remove_db(work)
    return finish("check_window", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
