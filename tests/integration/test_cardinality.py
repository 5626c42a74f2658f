"""Issue 18.9, cardinality: many distinct IPs in a window. The JSON/CSV report stays
complete and streams, the check walks the IPs in chunks, the console and the metrics keep
the worst N with totals; peak memory does not grow with the IP count.

Memory is each subprocess's own peak RSS (``ru_maxrss`` of a wrapper's one child) at
BIG IPs against SMALL IPs: today's code held every IP row at once (over 500 MB more at
100k IPs); streaming stays within a fixed margin."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from opsconsole.core.stats import WindowStats

SMALL, BIG = 2_000, 100_000
MARGIN_KB = 60 * 1024  # what may grow between SMALL and BIG IPs (today: 500+ MB)
NOW = float(int(time.time()) // 60 * 60)
MINUTE = int(NOW) - 300
BREACH_EVERY = 1000  # every 1000th IP sends 100 with 20 bounced (block); the rest < 10


def ip_of(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def counts(i: int) -> tuple[str, str, int, int, int, int, int, int, int]:
    """(ip, subuser, minute, delivered, bounced, hard, soft, deferred, complaints)."""
    if i % BREACH_EVERY == 7:
        return (ip_of(i), "", MINUTE, 80, 20, 10, 10, 1, 0)
    sent = 1 + i % 9  # fewer than min_sample (10): insufficient, never alerted
    b = i % 3 if sent > 2 else 0
    sub = "" if i % 4 else "news"
    return (ip_of(i), sub, MINUTE, sent - b, b, b, 0, i % 2, 0)


INSERT = (
    "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft, deferred,"
    " complaints) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def make_db(path: Path, n: int) -> str:
    import sqlite3

    from opsconsole.storage.db import open_database

    url = f"sqlite+aiosqlite:///{path}"

    async def schema() -> None:
        await (await open_database(url)).dispose()

    asyncio.run(schema())
    con = sqlite3.connect(path)
    with con:
        con.executemany(INSERT, (counts(i) for i in range(n)))
    con.close()
    return url


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    d = tmp_path_factory.mktemp("cardinality")
    return {n: make_db(d / f"ips{n}.db", n) for n in (SMALL, BIG)}


WRAP = (
    "import resource, subprocess, sys\n"
    "out = open(sys.argv[1], 'wb')\n"
    "rc = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def peak(argv: list[str], out: Path) -> int:
    """Run ``argv`` (stdout to ``out``); its peak RSS in KB; it must exit 0."""
    p = subprocess.run([sys.executable, "-c", WRAP, str(out), *argv], capture_output=True,
                       text=True, timeout=300, env=os.environ | {"NO_COLOR": "1"})  # fmt: skip
    rc, kb = p.stdout.split()
    assert rc == "0", p.stderr
    return int(kb)


def cli(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "opsconsole", "--db", url, "report", *args]


def expected_order(n: int) -> list[str]:
    """Independent truth: totals per IP from the generator, the report's order."""
    tot: dict[str, WindowStats] = {}
    for i in range(n):
        ip, _su, _m, d, b, h, s, df, c = counts(i)
        tot[ip] = WindowStats(d, b, h, s, df, c)

    def key(ip: str) -> tuple[float, int, str]:
        r = tot[ip].bounce_rate
        return (-(r if r is not None else -1.0), -tot[ip].sent, ip)

    return sorted(tot, key=key)


def test_report_json_and_csv_stream_every_ip_in_bounded_memory(
    dbs: dict[int, str], tmp_path: Path
) -> None:
    small = peak(cli(dbs[SMALL], "--format", "json"), tmp_path / "small.json")
    big = peak(cli(dbs[BIG], "--format", "json"), tmp_path / "big.json")
    report = json.loads((tmp_path / "big.json").read_text())
    assert [r["ip"] for r in report["ips"]] == expected_order(BIG)
    subs = {r["ip"]: [s["subuser"] for s in r["subusers"]] for r in report["ips"]}
    assert subs[ip_of(4)] == ["news"] and subs[ip_of(5)] == []
    assert list(report)[:12] == ["generated_at", "since", "until", "window_seconds", "engine",
                                 "thresholds", "ips", "warmups", "pools", "alerts",
                                 "unattributed", "ingest"]  # fmt: skip
    assert big <= small + MARGIN_KB, (small, big)

    big_csv = peak(cli(dbs[BIG], "--format", "csv"), tmp_path / "big.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "big.csv").read_text())))
    assert len(rows) == 1 + BIG + BIG // 4  # header, each IP, each IP's subuser line
    assert big_csv <= small + MARGIN_KB, (small, big_csv)


def test_report_table_shows_the_worst_with_totals(dbs: dict[int, str], tmp_path: Path) -> None:
    peak(cli(dbs[BIG]), tmp_path / "big.txt")
    out = (tmp_path / "big.txt").read_text()
    sent = sum(counts(i)[3] + counts(i)[4] for i in range(BIG))
    bounced = sum(counts(i)[4] for i in range(BIG))
    assert (f"showing 50 of {BIG:,} IPs (worst first; all IPs: sent {sent:,}, bounced"
            f" {bounced:,}); use --format json|csv for all") in out  # fmt: skip
    ips_table = out.split("\nIPs\n")[1].split("\n\n")[0]
    lines = [ln for ln in ips_table.splitlines()[1:] if ln.strip() and not ln.startswith("showing")]
    shown = {ln.split()[0] for ln in lines}
    breaching = {ip_of(i) for i in range(BIG) if i % BREACH_EVERY == 7}
    assert len(breaching) == 100 and shown <= breaching and len(shown) == 50


CHECK = """
import asyncio, json, sys, time
from opsconsole.core.engine.check import run_check
from opsconsole.settings import Settings
from opsconsole.storage.store import open_store
from opsconsole.wiring import engine_config

async def main() -> None:
    store = await open_store(sys.argv[1])
    config = engine_config(Settings(db=sys.argv[1]))
    outcome, _ = await run_check(store, config, float(sys.argv[2]), {})
    await store.close()
    print(json.dumps({"opened": outcome.alerts_opened}))

asyncio.run(main())
"""


def test_check_memory_is_bounded_and_opens_exactly_the_breaches(
    dbs: dict[int, str], tmp_path: Path
) -> None:
    small = peak([sys.executable, "-c", CHECK, dbs[SMALL], str(NOW)], tmp_path / "s.out")
    big = peak([sys.executable, "-c", CHECK, dbs[BIG], str(NOW)], tmp_path / "b.out")
    assert json.loads((tmp_path / "s.out").read_text()) == {"opened": SMALL // BREACH_EVERY}
    assert json.loads((tmp_path / "b.out").read_text()) == {"opened": BIG // BREACH_EVERY}
    assert big <= small + MARGIN_KB, (small, big)


async def test_metrics_and_console_hold_the_worst_n_with_exact_totals(
    dbs: dict[int, str],
) -> None:
    import re

    from opsconsole.core.views import snapshot
    from opsconsole.metrics import MetricsExporter
    from opsconsole.settings import Settings
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config

    url = dbs[BIG]
    store = await open_store(url)
    try:
        config = engine_config(Settings(db=url))
        snap = await snapshot(store, config, NOW)
        exporter = MetricsExporter(store, config, None, None, top_n=200)
        exporter.textfile = None

        class Sink:
            text = ""

        exporter.server = Sink()  # type: ignore[assignment]
        await exporter.after_check(NOW)
        metrics = exporter.server.text
    finally:
        await store.close()
    sent = sum(counts(i)[3] + counts(i)[4] for i in range(BIG))
    bounced = sum(counts(i)[4] for i in range(BIG))
    t = snap.report["ips_totals"]
    assert (t["ips"], t["shown"], t["omitted"]) == (BIG, 500, BIG - 500)
    assert (t["sent"], t["bounced"]) == (sent, bounced)
    assert len(snap.report["ips"]) == 500 and set(snap.series) <= {
        r["ip"] for r in snap.report["ips"]
    }
    # the 100 breaching IPs first (block), then the most sent of the rest
    worst = [r for r in snap.report["ips"] if r["severity"] == "block"]
    assert len(worst) == 100

    series = set(re.findall(r'^opsconsole_sent\{ip="([^"]+)"', metrics, re.M))
    assert len(series) == 200
    assert f"opsconsole_ips_omitted {BIG - 200}" in metrics
    assert f"opsconsole_window_sent {sent}" in metrics
    by_sev = dict(re.findall(r'^opsconsole_ips\{severity="(\w+)"\} (\d+)', metrics, re.M))
    assert sum(int(v) for v in by_sev.values()) == BIG


def mixed_rows() -> list[tuple[Any, ...]]:
    """Ties on rate and volume, rates equal to 6 decimals but not exactly, subusers,
    an unattributed key, providers."""
    out = []
    for i in range(300):
        sent = [640, 128, 100, 37, 1000001, 0][i % 6]
        b = [1, 1, 5, 3, 1, 0][i % 6] + (i % 2)
        ip = f"192.0.2.{i % 250}" if i < 250 else f"2001:db8::{i}"
        out.append((ip, ["", "a", "Z"][i % 3], MINUTE - (i % 3) * 60, max(0, sent - b),
                    b if sent else 0, 0, 0, i % 5, 0, ["", "gmail", "other"][i % 3]))  # fmt: skip
    out.append(("", "", MINUTE, 7, 3, 0, 0, 1, 0, ""))
    return out


async def test_streamed_json_equals_the_whole_report(db_url: str, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL: the streamed document is byte for byte ``render.to_json``
    of ``build_report`` (same order: the database sorts as Python does)."""
    from opsconsole.core.report_stream import open_report
    from opsconsole.core.views import build_report
    from opsconsole.render import to_json
    from opsconsole.settings import Settings
    from opsconsole.storage.store import open_store
    from opsconsole.stream_out import write_json
    from opsconsole.wiring import engine_config

    store = await open_store(db_url)
    try:
        cols = "ip, subuser, minute, delivered, bounced, hard, soft, deferred, complaints"
        names = ", ".join(f":v{j}" for j in range(10))
        async with store.engine.begin() as conn:
            await conn.execute(
                text(f"INSERT INTO bucket ({cols}, provider) VALUES ({names})"),
                [{f"v{j}": v for j, v in enumerate(r)} for r in mixed_rows()],
            )
        config = engine_config(Settings(db=db_url))
        whole = to_json(await build_report(store, config, now=NOW))
        buf = io.StringIO()
        sr = await open_report(store, config, now=NOW, chunk=7)
        await write_json(buf, sr.head, {"ips": sr.rows(), "providers": sr.provider_rows()})
    finally:
        await store.close()
    assert json.loads(whole)["providers"] and len(json.loads(whole)["ips"]) > 250
    assert buf.getvalue() == whole
