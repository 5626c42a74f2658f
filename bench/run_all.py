"""Run every benchmark job (each in its own process), print a summary table and write
``bench/RESULTS.md`` (``--smoke``: tiny sizes, a sanity check of the scripts in well under
a minute, not judged; its table goes to ``bench/out/RESULTS-smoke.md``).

    python -m bench.run_all [--smoke] [--only JOB ...] [--merge]

``--only JOB --merge`` replaces just those jobs' rows (and descriptions) in
``bench/RESULTS.md``, keeping every other job's rows as they were.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BENCH, OUT, PY, ROOT, Row, machine_info

JOBS = (
    "ingest_pmta",
    "ingest_postfix",
    "check_window",
    "report_json",
    "tui_refresh",
    "startup",
    "memory_follow",
    "fleet",
)


def run_job(job: str, smoke: bool) -> tuple[int, list[Row], float]:
    out = OUT / f"{job}.json"
    out.unlink(missing_ok=True)
    cmd = [PY, "-m", f"bench.{job}"] + (["--smoke"] if smoke else [])
    print(f"== {job}", flush=True)
    started = time.monotonic()
    rc = subprocess.call(cmd, cwd=ROOT)
    secs = time.monotonic() - started
    rows = [Row(**r) for r in json.loads(out.read_text())] if out.exists() else []
    if not rows:
        rows = [Row(job, "-", "-", "-", "-", False, f"crashed (exit {rc})")]
    return rc, rows, secs


def table(rows: list[Row]) -> str:
    head = "| job | value | baseline (same run) | ratio | target | result | note |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = (r.job, r.value, r.baseline, r.ratio, r.target, f"**{r.verdict}**", r.note)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    w = max(len(r.job) for r in rows)
    out = [f"{'job':{w}}  {'value':>22}  {'ratio':>16}  {'target':>14}  result"]
    for r in rows:
        out.append(f"{r.job:{w}}  {r.value:>22}  {r.ratio:>16}  {r.target:>14}  {r.verdict}")
    return "\n".join(out)


def doc_of(job: str) -> str:
    """The job's description: its module docstring without the usage line."""
    text = (BENCH / f"{job}.py").read_text()
    doc = text.split('"""', 2)[1]
    return "\n".join(line for line in doc.strip().splitlines() if "python -m" not in line).strip()


def write_results(path: Path, rows: list[Row], times: dict[str, float], total: float) -> None:
    info = machine_info()
    parts = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run_all`); every ratio is against a"
        " baseline measured in the same run, on the same machine, on the same data (figures"
        " are medians; absolute times on these shared VMs are noisy, ratios hold better).",
        "Profiles, hot spots and the changes they call for: [PROFILES.md](PROFILES.md).",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        f"- whole run: {total:.0f} s ("
        + ", ".join(f"{j} {s:.0f} s" for j, s in times.items())
        + ")",
        "",
        "## Results",
        "",
        table(rows),
        "",
        "## What each job measures",
        "",
    ]
    for job in times:
        parts += [f"### {job}", "", doc_of(job), ""]
    path.write_text("\n".join(parts))


def _prefix(job: str) -> str:
    return job.replace("_", " ") + ","  # rows of ingest_postfix are "ingest postfix, ..."


def merge_results(path: Path, jobs: list[str], rows: list[Row]) -> None:
    """Swap the rows of ``jobs`` in an existing RESULTS.md for ``rows``, in place of the
    first old one (appended when there was none); every other line stays. A job's rows
    are those named like the job (``ingest postfix, ...``) or exactly like a new row
    (``report_json`` names its rows ``report --format json, ...``, as does a row of the
    cardinality table, which stays)."""
    mine = tuple(_prefix(j) for j in jobs) + tuple(f"{r.job} |" for r in rows)
    new = table(rows).splitlines()[2:]
    out: list[str] = []
    placed = False
    for line in path.read_text().splitlines():
        if line.startswith("| ") and line[2:].startswith(mine):
            if not placed:
                out += new
                placed = True
            continue
        out.append(line)
    if not placed:
        end = max(i for i, x in enumerate(out) if x.startswith("| "))
        out[end + 1 : end + 1] = new
    text = "\n".join(out) + "\n"
    for job in jobs:  # the job's description as its docstring says now
        head = f"### {job}\n\n"
        if head in text:
            before, _, rest = text.partition(head)
            nxt = rest.find("\n### ")
            rest = rest[nxt + 1 :] if nxt >= 0 else ""
            text = before + head + doc_of(job) + "\n\n" + rest
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, fast, not judged")
    p.add_argument("--only", nargs="+", choices=JOBS, help="run only these jobs")
    p.add_argument("--merge", action="store_true", help="with --only: update RESULTS.md rows")
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[Row] = []
    times: dict[str, float] = {}
    failed = []
    for job in args.only or JOBS:
        rc, job_rows, secs = run_job(job, args.smoke)
        rows += job_rows
        times[job] = secs
        if rc != 0:
            failed.append(job)
    total = time.monotonic() - started
    print()
    print(summary(rows))
    print(
        f"\n{len(rows)} rows in {total:.0f} s; "
        + (
            "smoke run (sizes too small to judge)"
            if args.smoke
            else f"missed targets: {', '.join(failed)}"
            if failed
            else "all targets met"
        )
    )
    if args.merge and args.only and not args.smoke:
        merge_results(BENCH / "RESULTS.md", list(args.only), rows)
        print("merged into bench/RESULTS.md")
        return 1 if failed else 0
    target = OUT / "RESULTS-smoke.md" if args.smoke or args.only else BENCH / "RESULTS.md"
    write_results(target, rows, times, total)
    print(f"written {target.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
