"""Job: ``opsconsole ingest --format pmta`` of 1M lines, whole process on a fresh database,
against ``csv.reader`` + dict aggregation of the same file (also a child process).
Target: <= 2.0x the baseline's time. Run on the simulator's column order and on a file
with shuffled columns (another generator's ``record-fields`` order).

    python -m bench.ingest_pmta [--smoke] [--repeat N]
"""

from __future__ import annotations

import sys

from bench.common import (
    BENCH,
    OPSCONSOLE,
    OUT,
    PY,
    Row,
    alternate,
    count_lines,
    db_url,
    finish,
    fmt_s,
    median,
    parser,
    remove_db,
    run_child,
)
from bench.datagen import mta_log

TARGET = 2.0
BASELINE = str(BENCH / "baselines" / "csv_agg.py")


def ip_map_args(fmt: str) -> list[str]:
    """``--ip-map`` for every name of the simulator's default scenario, as an operator
    would configure them (events with a blank source IP are attributed through it)."""
    from opsconsole.simulator import Scenario

    out: list[str] = []
    for name, ip in Scenario.default().ip_map(fmt).items():
        out += ["--ip-map", f"{name}={ip}"]
    return out


def ingest_once(path: str, fmt: str, tag: str) -> object:
    db = OUT / f"ingest-{tag}.db"
    remove_db(db)
    cmd = [OPSCONSOLE, "--db", db_url(db), "ingest", path, "--format", fmt, *ip_map_args(fmt)]
    try:
        return run_child(cmd)
    finally:
        remove_db(db)


def measure(label: str, path: str, repeat: int) -> Row:
    ours, base = alternate(
        repeat,
        lambda: ingest_once(path, "pmta", "pmta"),  # type: ignore[arg-type,return-value]
        lambda: run_child([PY, BASELINE, path]),
    )
    t, b = median([p.wall for p in ours]), median([p.wall for p in base])
    ratio = t / b
    return Row(
        job=f"ingest pmta, {label}",
        value=fmt_s(t),
        baseline=f"{fmt_s(b)} csv.reader+dict",
        ratio=f"{ratio:.2f}x",
        target=f"<= {TARGET:.1f}x",
        ok=ratio <= TARGET,
        note=f"peak RSS {median([p.maxrss_mb for p in ours]):.0f} MB,"
        f" CPU {median([p.cpu for p in ours]):.2f} s",
        raw={"seconds": t, "baseline_seconds": b, "ratio": ratio},
    )


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "").parse_args(argv)
    events = 20_000 if args.smoke else 1_000_000
    repeat = 1 if args.smoke else args.repeat
    rows = []
    for shuffled in (False, True):
        path = mta_log("pmta", events, shuffle_columns=shuffled)
        lines = count_lines(path)
        label = f"{lines / 1e6:.2f}M lines" + (", shuffled columns" if shuffled else "")
        rows.append(measure(label, str(path), repeat))
    return finish("ingest_pmta", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
