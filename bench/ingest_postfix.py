"""Job: ``opsconsole ingest --format postfix`` of ~1M lines, whole process on a fresh
database (start-up and the SQLite commit included), against ``pflogsumm`` (Debian package)
and Go's ``postfix_exporter`` (Debian ``prometheus-postfix-exporter``) on the same file, all
child processes, interleaved. Targets: >= 4x pflogsumm's speed and <= 0.5x its peak RSS;
>= 3x postfix_exporter's speed with peak RSS <= 150 MB (issue 10). Run on classic syslog
timestamps and on RFC 3339 ones.

The exporter only follows a log: it is started on an empty file that then receives the
whole log in one write, and is done when the sum of its counters on ``/metrics`` stops
changing (bench/postfix_exporter.py); its start-up is not counted, ours is.

Provider dimension (issue 11): "without" is the same file with every recipient rewritten
to one domain (``u@example.net``, provider ``other``), so each (ip, subuser, minute) is one
bucket row instead of one per provider; every other byte of work is the same. Target:
ingest of the real file within 10% of the one-domain file; the bucket rows and database
size of both are reported (the provider is a column of the bucket key, not a copy of
every row per domain).

    python -m bench.ingest_postfix [--smoke] [--repeat N]
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
from pathlib import Path

from bench.common import (
    DATA,
    OPSCONSOLE,
    OUT,
    ROOT,
    Proc,
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
from bench.datagen import mta_log, postfix_events_for_lines
from bench.ingest_pmta import ingest_once, ip_map_args
from bench.postfix_exporter import run_exporter
from bench.postfix_exporter import version as exporter_version

SPEED = 4.0
RSS = 0.5
EXPORTER_SPEED = 3.0
RSS_MB = 150.0
PROVIDER_COST = 1.10
_RCPT = re.compile(rb"to=<[^>]*>")


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


def one_domain(path: Path) -> Path:
    """``path`` with every recipient at one domain (the provider dimension's "without")."""
    out = DATA / f"{path.stem}-onedomain{path.suffix}"
    if out.exists() and Path(f"{out}.ok").exists():
        return out
    with open(path, "rb") as src, open(out, "wb") as dst:
        for line in src:
            dst.write(_RCPT.sub(b"to=<u@example.net>", line))
    Path(f"{out}.ok").write_text("ok\n")
    return out


def ingest_keep(path: str, tag: str) -> tuple[Proc, int, float]:
    """One ingest; also the bucket rows and database size it left (MB)."""
    db = OUT / f"ingest-{tag}.db"
    remove_db(db)
    cmd = [OPSCONSOLE, "--db", db_url(db), "ingest", path, "--format", "postfix"]
    try:
        p = run_child([*cmd, *ip_map_args("postfix")])
        with sqlite3.connect(db) as c:
            rows = c.execute("SELECT count(*) FROM bucket").fetchone()[0]
        c.close()
        return p, int(rows), db.stat().st_size / 1e6
    finally:
        remove_db(db)


def measure_exporter(label: str, path: str, repeat: int) -> list[Row]:
    ours, base = alternate(
        repeat,
        lambda: ingest_once(path, "postfix", "postfix"),  # type: ignore[arg-type,return-value]
        lambda: run_exporter(path),
    )
    t, b = median([p.wall for p in ours]), median([p.wall for p in base])
    rss = median([p.maxrss_mb for p in ours])
    speed = b / t
    lines = count_lines(path)
    ver = exporter_version()
    return [
        Row(
            job=f"ingest postfix, {label}: vs postfix_exporter",
            value=f"{fmt_s(t)} ({lines / t / 1000:.0f}k lines/s)",
            baseline=f"{fmt_s(b)} postfix_exporter {ver} ({lines / b / 1000:.0f}k lines/s)",
            ratio=f"{speed:.2f}x its speed",
            target=f">= {EXPORTER_SPEED:.0f}x, RSS <= {RSS_MB:.0f} MB",
            ok=speed >= EXPORTER_SPEED and rss <= RSS_MB,
            note=f"CPU {median([p.cpu for p in ours]):.2f} s vs"
            f" {median([p.cpu for p in base]):.2f} s; peak RSS {rss:.0f} MB vs"
            f" {median([p.maxrss_mb for p in base]):.0f} MB",
            raw={"seconds": t, "baseline_seconds": b, "speedup": speed, "rss_mb": rss},
        )
    ]


def measure_providers(label: str, path: Path, repeat: int) -> Row:
    flat = one_domain(path)
    real: list[tuple[Proc, int, float]] = []
    one: list[tuple[Proc, int, float]] = []
    for _ in range(repeat):
        real.append(ingest_keep(str(path), "prov"))
        one.append(ingest_keep(str(flat), "flat"))
    t, b = median([r[0].wall for r in real]), median([r[0].wall for r in one])
    ratio = t / b
    return Row(
        job=f"ingest postfix, {label}: providers on/one domain",
        value=f"{fmt_s(t)}, {real[0][1]:,} bucket rows, {real[0][2]:.1f} MB",
        baseline=f"{fmt_s(b)}, {one[0][1]:,} rows, {one[0][2]:.1f} MB (one domain)",
        ratio=f"{ratio:.2f}x",
        target=f"<= {PROVIDER_COST:.2f}x",
        ok=ratio <= PROVIDER_COST,
        note=f"CPU {median([r[0].cpu for r in real]):.2f} s vs"
        f" {median([r[0].cpu for r in one]):.2f} s",
        raw={"seconds": t, "baseline_seconds": b, "ratio": ratio},
    )


def compile_sources() -> None:
    """Write the project's .pyc files once, as any first run of an installed console does:
    with PYTHONDONTWRITEBYTECODE set (as on the CI machines) every run would compile them
    again, a start-up cost no installed copy pays."""
    import compileall

    for pkg in ("opsconsole", "core", "storage", "tui"):
        compileall.compile_dir(str(ROOT / pkg), quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "").parse_args(argv)
    compile_sources()
    events = 10_000 if args.smoke else postfix_events_for_lines(1_000_000)
    repeat = 1 if args.smoke else args.repeat
    rows: list[Row] = []
    for style in ("classic", "rfc3339"):
        path = mta_log("postfix", events, style=style)
        lines = count_lines(path)
        label = f"{lines / 1e6:.2f}M lines, {style}"
        rows += measure(label, str(path), repeat)
        rows += measure_exporter(label, str(path), repeat)
        rows.append(measure_providers(label, path, repeat))
    return finish("ingest_postfix", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
