"""Job: ``opsconsole report --format json`` (whole process) over 5,000 IPs with 90 days of
buckets, against the ``sqlite3`` CLI running the equivalent aggregate query (the window's
per-(ip, subuser) sums joined with pool membership, printed as JSON by ``sqlite3 -json``).
Target: <= 2x. Measured on the store as the application leaves it (no ANALYZE: judged)
and on an ANALYZEd copy (informational). The last hour (the default window) and the last
24 h, both with explicit ``--since/--until`` so that the data's fixed end is "now".

90 days x 5,000 IPs x 1,440 minutes would be 648M rows; a fleet's IPs do not send every
minute. Each IP sends one 15-minute campaign a day (start varying per IP and day) and every
minute of the last hour: 5,000 x (89 x 15 + 60) ~ 7M rows, the size of the 24 h dense store.

    python -m bench.report_json [--smoke] [--repeat N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    OPSCONSOLE,
    OUT,
    Row,
    alternate,
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
REPORT_SQL = (
    "SELECT w.*, m.pool, m.state FROM (SELECT ip, subuser, sum(delivered) AS delivered,"
    " sum(bounced) AS bounced, sum(hard) AS hard, sum(soft) AS soft, sum(deferred) AS deferred,"
    " sum(complaints) AS complaints FROM bucket WHERE minute >= {lo} AND minute < {hi}"
    " GROUP BY ip, subuser) AS w LEFT JOIN pool_member AS m ON m.ip = w.ip"
    " ORDER BY w.bounced * 1.0 / max(1, w.delivered + w.bounced) DESC"
)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def in_process(db: Path, config: Path, since: float, until: float, repeat: int) -> float:
    """build_report alone on a warm engine (what the TUI pays per refresh), for the note."""
    from opsconsole.core.views import build_report
    from opsconsole.settings import load_settings
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config

    settings = load_settings(config, db=db_url(db))
    store = await open_store(settings.db)
    cfg = engine_config(settings)
    times = []
    try:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            await build_report(store, cfg, since=since, until=until, now=until)
            times.append(time.perf_counter() - started)
    finally:
        await store.close()
    return median(times[1:])


def measure(
    db: Path, config: Path, hours: int, repeat: int, label: str, judged: bool = True
) -> Row:
    from opsconsole.core.windows import range_bounds

    until = float(END)
    since = until - hours * 3600
    lo, hi = range_bounds(since, until)
    report = [OPSCONSOLE, "--db", db_url(db), "report", "--format", "json"]
    report += ["--since", iso(since), "--until", iso(until)]
    cli = [sqlite3_cli(), "-json", str(db), REPORT_SQL.format(lo=lo, hi=hi)]
    run_child(cli)  # warm the page cache for both sides
    ours, base = alternate(repeat, lambda: run_child(report), lambda: run_child(cli))
    t, b = median([p.wall for p in ours]), median([p.wall for p in base])
    ratio = t / b
    inproc = asyncio.run(in_process(db, config, since, until, repeat))
    return Row(
        job=f"report --format json, last {hours} h, {label}",
        value=fmt_ms(t),
        baseline=f"{fmt_ms(b)} sqlite3 -json",
        ratio=f"{ratio:.2f}x",
        target=f"<= {TARGET:.0f}x",
        ok=(ratio <= TARGET) if judged else None,
        note=f"build_report in-process {fmt_ms(inproc)} ({inproc / b:.2f}x)",
        raw={"seconds": t, "baseline_seconds": b, "ratio": ratio, "in_process_seconds": inproc},
    )


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "").parse_args(argv)
    n_ips, days = (200, 3) if args.smoke else (5000, 90)
    repeat = 1 if args.smoke else args.repeat
    db, config, n = bucket_store("sparse", n_ips, days=days)
    label = f"{n_ips:,} IPs, {days} d ({n / 1e6:.1f}M rows)"
    rows = [measure(db, config, hours, repeat, label) for hours in (1, 24)]
    # The application does not ANALYZE; what it would gain (informational, on a copy).
    work = OUT / "report-analyze.db"
    copy_db(db, work)
    run_child([sqlite3_cli(), str(work), "ANALYZE"])
    rows.append(measure(work, config, 1, repeat, f"{label}, after ANALYZE", judged=False))
    remove_db(work)
    return finish("report_json", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
