"""Job: ``opsconsole ingest --format pmta`` of 1M lines, whole process on a fresh database,
against DuckDB's ``read_csv`` + group by (ip, type, minute) of the same file (a child
process, warm: the two alternate, median of 3). Target (issue 10): <= 3.0x DuckDB. Without
duckdb installed (``make bench`` installs the bench extra) the baseline is ``csv.reader`` +
dict aggregation, target <= 2.0x. Run on three generators' files: the simulator's column
order, the simulator with shuffled columns, and tests/helpers/pmta_other.py (every text
field quoted, its own ``record-fields`` order, random seconds, 900 IPs, IPv6, pools).

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

TARGET = 2.0  # against csv.reader
TARGET_DUCKDB = 3.0
BASELINE = str(BENCH / "baselines" / "csv_agg.py")
DUCKDB = str(BENCH / "baselines" / "duckdb_agg.py")


def have_duckdb() -> bool:
    import importlib.util

    return importlib.util.find_spec("duckdb") is not None


def other_log(lines: int) -> tuple[str, list[str]]:
    """The other generator's file (cached in bench/data) and its --ip-map flags."""
    from bench.common import DATA
    from tests.helpers import pmta_other

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"pmta-other-{lines}-s1.csv"
    flags_path = DATA / f"pmta-other-{lines}-s1.ipmap"
    if not (path.exists() and flags_path.exists()):
        mapping = pmta_other.write(path, lines, seed=1, ips=900)
        flags_path.write_text("\n".join(f"{k}={v}" for k, v in mapping.items()))
    flags: list[str] = []
    for item in flags_path.read_text().split():
        flags += ["--ip-map", item]
    return str(path), flags


def ip_map_args(fmt: str) -> list[str]:
    """``--ip-map`` for every name of the simulator's default scenario, as an operator
    would configure them (events with a blank source IP are attributed through it)."""
    from opsconsole.simulator import Scenario

    out: list[str] = []
    for name, ip in Scenario.default().ip_map(fmt).items():
        out += ["--ip-map", f"{name}={ip}"]
    return out


def ingest_once(path: str, fmt: str, tag: str, maps: list[str] | None = None) -> object:
    db = OUT / f"ingest-{tag}.db"
    remove_db(db)
    maps = ip_map_args(fmt) if maps is None else maps
    cmd = [OPSCONSOLE, "--db", db_url(db), "ingest", path, "--format", fmt, *maps]
    try:
        return run_child(cmd)
    finally:
        remove_db(db)


def measure(label: str, path: str, repeat: int, maps: list[str] | None = None) -> Row:
    duck = have_duckdb()
    anchor = [PY, DUCKDB, path] if duck else [PY, BASELINE, path]
    target = TARGET_DUCKDB if duck else TARGET
    run_child(anchor)  # warm: the file in the page cache, DuckDB's extension loaded
    ours, base = alternate(
        repeat,
        lambda: ingest_once(path, "pmta", "pmta", maps),  # type: ignore[arg-type,return-value]
        lambda: run_child(anchor),
    )
    t, b = median([p.wall for p in ours]), median([p.wall for p in base])
    ratio = t / b
    return Row(
        job=f"ingest pmta, {label}",
        value=fmt_s(t),
        baseline=f"{fmt_s(b)} " + ("duckdb read_csv+group by" if duck else "csv.reader+dict"),
        ratio=f"{ratio:.2f}x",
        target=f"<= {target:.1f}x",
        ok=ratio <= target,
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
    other, maps = other_log(20_000 if args.smoke else 1_000_000)
    label = f"{count_lines(other) / 1e6:.2f}M lines, other generator (quoted, 900 IPs)"
    rows.append(measure(label, other, repeat, maps))
    return finish("ingest_pmta", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
