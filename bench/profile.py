"""Sample a job's process with py-spy and print where the time goes (own time and
inclusive time per function, from py-spy's collapsed stacks). Needs py-spy in the venv
(``.venv/bin/pip install py-spy``; not a project dependency). Uses the data the jobs
generated (run the job once first).

    python -m bench.profile ingest-pmta|ingest-postfix|ingest-postfix-rfc3339|report|check
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.common import DATA, OPSCONSOLE, OUT, PY, ROOT, db_url, remove_db
from bench.datagen import END, mta_log, postfix_events_for_lines
from bench.ingest_pmta import ip_map_args

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    file = m["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m['fn']} ({file})"


def summarize(raw: Path, top: int) -> str:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = [frame_name(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    out = [f"{total} samples", "", "own time:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    out += ["", "inclusive time:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in incl.most_common(top * 2)]
    return "\n".join(out)


def command(job: str) -> list[str]:
    if job == "ingest-pmta":
        path = mta_log("pmta", 1_000_000)
        return [OPSCONSOLE, "ingest", str(path), "--format", "pmta", *ip_map_args("pmta")]
    if job.startswith("ingest-postfix"):
        style = "rfc3339" if job.endswith("rfc3339") else "classic"
        path = mta_log("postfix", postfix_events_for_lines(1_000_000), style=style)
        return [OPSCONSOLE, "ingest", str(path), "--format", "postfix", *ip_map_args("postfix")]
    if job == "report":
        db = DATA / "buckets-sparse-5000ip-90d-15m.db"
        return [OPSCONSOLE, "--db", db_url(db), "report", "--format", "json",
                "--since", f"@{END - 3600}", "--until", f"@{END}"]  # fmt: skip
    if job == "check":
        return [PY, "-m", "bench.check_window", "--repeat", "3"]
    raise SystemExit(f"unknown job {job}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("job")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--rate", type=int, default=250)
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / "profile.db"
    remove_db(db)
    cmd = command(args.job)
    if args.job.startswith("ingest"):
        cmd = [cmd[0], "--db", db_url(db), *cmd[1:]]
    if args.job == "report":  # report takes ISO times
        from bench.report_json import iso

        cmd = [c if not c.startswith("@") else iso(float(c[1:])) for c in cmd]
    raw = OUT / f"profile-{args.job}.txt"
    subprocess.run(
        [spy, "record", "--rate", str(args.rate), "--format", "raw", "--output", str(raw),
         "--", *cmd],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    remove_db(db)
    print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
