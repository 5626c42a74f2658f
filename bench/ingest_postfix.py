"""Job: ``opsconsole ingest --format postfix`` of ~1M lines, whole process on a fresh
database, against ``pflogsumm`` (Debian package) on the same file, both child processes.
Targets: >= 4x pflogsumm's speed and <= 0.5x its peak RSS. Run on classic syslog
timestamps and on RFC 3339 ones.

    python -m bench.ingest_postfix [--smoke] [--repeat N]
"""

from __future__ import annotations

import shutil
import sys

from bench.common import Row, alternate, count_lines, finish, fmt_s, median, parser, run_child
from bench.datagen import mta_log, postfix_events_for_lines
from bench.ingest_pmta import ingest_once

SPEED = 4.0
RSS = 0.5


def pflogsumm() -> str:
    path = shutil.which("pflogsumm") or shutil.which("pflogsumm", path="/usr/sbin:/usr/bin")
    if path is None:
        raise SystemExit("bench: pflogsumm is needed: apt-get install -y pflogsumm")
    return path


def measure(label: str, path: str, repeat: int) -> list[Row]:
    tool = pflogsumm()
    ours, base = alternate(
        repeat,
        lambda: ingest_once(path, "postfix", "postfix"),  # type: ignore[arg-type,return-value]
        lambda: run_child([tool, path]),
    )
    t, b = median([p.wall for p in ours]), median([p.wall for p in base])
    rss, brss = median([p.maxrss_mb for p in ours]), median([p.maxrss_mb for p in base])
    speed = b / t
    mem = rss / brss
    lines = count_lines(path)
    return [
        Row(
            job=f"ingest postfix, {label}: speed",
            value=f"{fmt_s(t)} ({lines / t / 1000:.0f}k lines/s)",
            baseline=f"{fmt_s(b)} pflogsumm ({lines / b / 1000:.0f}k lines/s)",
            ratio=f"{speed:.2f}x its speed",
            target=f">= {SPEED:.0f}x",
            ok=speed >= SPEED,
            note=f"CPU {median([p.cpu for p in ours]):.2f} s",
            raw={"seconds": t, "baseline_seconds": b, "speedup": speed},
        ),
        Row(
            job=f"ingest postfix, {label}: peak RSS",
            value=f"{rss:.0f} MB",
            baseline=f"{brss:.0f} MB pflogsumm",
            ratio=f"{mem:.2f}x its RSS",
            target=f"<= {RSS}x",
            ok=mem <= RSS,
            note=f"runs {min(p.maxrss_mb for p in ours):.0f}-{max(p.maxrss_mb for p in ours):.0f}"
            f" MB vs {min(p.maxrss_mb for p in base):.0f}-{max(p.maxrss_mb for p in base):.0f} MB",
            raw={"rss_mb": rss, "baseline_rss_mb": brss, "ratio": mem},
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "").parse_args(argv)
    events = 10_000 if args.smoke else postfix_events_for_lines(1_000_000)
    repeat = 1 if args.smoke else args.repeat
    rows: list[Row] = []
    for style in ("classic", "rfc3339"):
        path = mta_log("postfix", events, style=style)
        lines = count_lines(path)
        rows += measure(f"{lines / 1e6:.2f}M lines, {style}", str(path), repeat)
    return finish("ingest_postfix", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
