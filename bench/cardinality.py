"""Job: cardinality (issue 18.9). 1,000,000 distinct IPs, one minute bucket each (a
hostile file of junk IPs, or a huge fleet): ``report --format json`` and one engine check
(whole processes), wall time and peak RSS, against the same at 2,000 IPs. Target: peak
RSS at 1M IPs <= the 2k-IP figure + 100 MB (memory independent of the IP count).

Most IPs send fewer than ``min_sample`` (insufficient: never alerted); one in 1,000 sends
100 with 20 bounced (block: one alert each).

    python -m bench.cardinality [--smoke] [--repeat N]
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from bench.common import DATA, OPSCONSOLE, PY, Row, db_url, finish, fmt_s, median, parser, run_child
from bench.datagen import END
from bench.report_json import iso

MARGIN_MB = 100.0
MINUTE = END - 300
INSERT = (
    "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft, deferred,"
    " complaints) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CHECK = """
import asyncio, sys
from opsconsole.core.engine.check import run_check
from opsconsole.settings import Settings
from opsconsole.storage.store import open_store
from opsconsole.wiring import engine_config

async def main() -> None:
    store = await open_store(sys.argv[1])
    outcome, _ = await run_check(store, engine_config(Settings(db=sys.argv[1])),
                                 float(sys.argv[2]), {})
    await store.close()
    print(outcome.alerts_opened)

asyncio.run(main())
"""


def counts(i: int) -> tuple[object, ...]:
    ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
    if i % 1000 == 7:
        return (ip, "", MINUTE, 80, 20, 10, 10, 1, 0)
    sent = 1 + i % 9
    b = i % 3 if sent > 2 else 0
    return (ip, "" if i % 4 else "news", MINUTE, sent - b, b, b, 0, i % 2, 0)


def store(n: int) -> Path:
    import asyncio

    from opsconsole.storage.db import open_database

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"cardinality-{n}ip.db"
    if path.exists() and Path(f"{path}.ok").exists():
        return path
    path.unlink(missing_ok=True)

    async def schema() -> None:
        await (await open_database(db_url(path))).dispose()

    asyncio.run(schema())
    con = sqlite3.connect(path)
    with con:
        con.executemany(INSERT, (counts(i) for i in range(n)))
    con.close()
    Path(f"{path}.ok").write_text("ok\n")
    return path


def measure(name: str, cmd_of: object, small: Path, big: Path, n: int, repeat: int) -> Row:
    runs = {p: [run_child(cmd_of(p)) for _ in range(repeat)] for p in (small, big)}  # type: ignore[operator]
    rss_s = median([r.maxrss_mb for r in runs[small]])
    rss_b = median([r.maxrss_mb for r in runs[big]])
    wall = median([r.wall for r in runs[big]])
    return Row(
        job=f"{name}, {n:,} IPs: peak RSS",
        value=f"{rss_b:.0f} MB",
        baseline=f"{rss_s:.0f} MB at 2,000 IPs",
        ratio=f"+{rss_b - rss_s:.0f} MB",
        target=f"<= +{MARGIN_MB:.0f} MB",
        ok=rss_b <= rss_s + MARGIN_MB,
        note=f"wall {fmt_s(wall)}",
        raw={"rss_mb": rss_b, "small_rss_mb": rss_s, "seconds": wall},
    )


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "", repeat=1).parse_args(argv)
    n = 20_000 if args.smoke else 1_000_000
    small, big = store(2_000), store(n)
    window = ["--since", iso(END - 3600), "--until", iso(END)]

    def report(p: Path) -> list[str]:
        return [OPSCONSOLE, "--db", db_url(p), "report", "--format", "json", *window]

    def check(p: Path) -> list[str]:
        return [PY, "-c", CHECK, db_url(p), str(END)]

    rows = [
        measure("report --format json", report, small, big, n, args.repeat),
        measure("engine check", check, small, big, n, args.repeat),
    ]
    return finish("cardinality", rows, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
