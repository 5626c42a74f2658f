"""Issue 10.5: ``opsconsole ingest --rescan FILE...`` replaces what a file contributed with a
fresh reading, so a missing ``--ip-map`` or a missing ``--internal-relay`` is undone without
deleting the database. Real CLI subprocesses on SQLite and PostgreSQL (``db_url``); the
truth is computed here from the lines the test writes, and checked against a fresh ingest
into an empty database with the right flags.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.db import rows as db_rows

PY = sys.executable
NOW = int(time.time()) // 60 * 60 - 3 * 3600  # three hours ago, on a minute
VMTAS = {"vmta1": "203.0.113.1", "vmta2": "203.0.113.2"}
KEYS = ("delivered", "bounced", "deferred")


def run(db: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "opsconsole", "--db", db, *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def ok(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    r = run(db, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def per_ip(db: str) -> dict[str, dict[str, int]]:
    got = db_rows(
        db,
        "SELECT ip, sum(delivered), sum(bounced), sum(deferred) FROM bucket"
        " GROUP BY ip ORDER BY ip",
    )
    return {r[0]: dict(zip(KEYS, (int(v) for v in r[1:]), strict=True)) for r in got}


def buckets(db: str) -> list[tuple[object, ...]]:
    q = (
        "SELECT ip, subuser, provider, minute, delivered, bounced, hard, soft, deferred,"
        " complaints FROM bucket ORDER BY ip, subuser, provider, minute"
    )
    return [tuple(r) for r in db_rows(db, q)]


def pmta_file(path: Path, n: int) -> dict[str, dict[str, int]]:
    """A PowerMTA accounting file whose rows carry only the vmta name; returns the per-IP
    truth under VMTAS."""
    truth = {ip: dict.fromkeys(KEYS, 0) for ip in VMTAS.values()}
    kinds = (("d", "delivered", "2.0.0 (ok)"), ("b", "bounced", "5.1.1 (bad mailbox)"),
             ("t", "deferred", "4.2.1 (try later)"))  # fmt: skip
    lines = ["type,timeLogged,orig,rcpt,vmta,dlvSourceIp,dsnStatus,dsnDiag"]
    for i in range(n):
        t, key, status = kinds[i % 7 % 3]
        vmta = "vmta1" if i % 5 else "vmta2"
        lines.append(f"{t},{NOW + i % 7200},a@x.test,u{i}@gmail.com,{vmta},,{status},diag {i}")
        truth[VMTAS[vmta]][key] += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return truth


def ip_maps() -> list[str]:
    return [f"--ip-map={k}={v}" for k, v in VMTAS.items()]


def test_pmta_without_ip_map_then_rescan_is_exact_and_idempotent(
    db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "acct.csv"
    truth = pmta_file(log, 3000)
    first = ok(db_url, "ingest", str(log), "--format", "pmta")
    assert "vmta1 (2,400)" in first.stderr and "--ip-map vmta1=IP" in first.stderr
    assert set(per_ip(db_url)) == {""}  # all unattributed

    dry = ok(db_url, "ingest", "--rescan", str(log), "--format", "pmta", *ip_maps(),
             "--dry-run", "--output", "json")  # fmt: skip
    shown = {r["ip"]: r for r in json.loads(dry.stdout)["ips"]}
    assert shown["203.0.113.1"]["before"]["delivered"] == 0
    assert shown["203.0.113.1"]["after"]["delivered"] == truth["203.0.113.1"]["delivered"]
    assert shown[None]["after"] == dict.fromkeys(("delivered", "bounced", "deferred",
                                                  "complaints"), 0)  # fmt: skip
    assert set(per_ip(db_url)) == {""}  # a dry run changes nothing

    ok(db_url, "ingest", "--rescan", str(log), "--format", "pmta", *ip_maps())
    assert per_ip(db_url) == truth
    fresh = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    ok(fresh, "ingest", str(log), "--format", "pmta", *ip_maps())
    assert buckets(db_url) == buckets(fresh)
    counters = "SELECT lines, events, unattributed FROM ingest_counter"
    assert [tuple(r) for r in db_rows(db_url, counters)] == [(3001, 3000, 0)]

    ok(db_url, "ingest", "--rescan", str(log), "--format", "pmta", *ip_maps())  # again
    assert buckets(db_url) == buckets(fresh)
    assert [tuple(r) for r in db_rows(db_url, counters)] == [(3001, 3000, 0)]
    # and a plain ingest afterwards still adds nothing
    ok(db_url, "ingest", str(log), "--format", "pmta", *ip_maps())
    assert buckets(db_url) == buckets(fresh)


def test_rescan_reads_what_was_appended_too(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "acct.csv"
    pmta_file(log, 1000)
    ok(db_url, "ingest", str(log), "--format", "pmta")
    with log.open("a", encoding="utf-8") as f:  # the file grows after the first reading
        f.write(f"d,{NOW},a@x.test,late@gmail.com,vmta2,,2.0.0 (ok),late\n")
    ok(db_url, "ingest", str(log), "--format", "pmta", "--ip-map=vmta1=203.0.113.1")
    ok(db_url, "ingest", "--rescan", str(log), "--format", "pmta", *ip_maps())
    fresh = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    ok(fresh, "ingest", str(log), "--format", "pmta", *ip_maps())
    assert buckets(db_url) == buckets(fresh)


OUTCOMES = (
    ("delivered", "sent (250 2.0.0 OK)"),
    ("bounced", "bounced (host said: 550 5.1.1 no such user)"),
    ("deferred", "deferred (host said: 421 4.7.0 try later)"),
)


def postfix_file(path: Path, n: int) -> tuple[dict[str, dict[str, int]], int]:
    """Postfix lines through two transports; every 4th delivery of out2 is a hand-off to a
    content filter at 10.0.0.5:10024 (not loopback: only --internal-relay says so)."""
    truth = {"203.0.113.2": dict.fromkeys(KEYS, 0), "203.0.113.3": dict.fromkeys(KEYS, 0)}
    hops = 0
    lines = []
    for i in range(n):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW + i))
        name, ip = ("out2", "203.0.113.2") if i % 3 else ("out3", "203.0.113.3")
        qid = f"{0xA0000 + i:X}"
        if name == "out2" and i % 4 == 0:
            relay, status, hops = "filter.local[10.0.0.5]:10024", "sent (250 2.0.0 Ok)", hops + 1
            key = None
        else:
            relay = "gmail-smtp-in.l.google.com[142.250.1.27]:25"
            key, status = OUTCOMES[i % 5 % 3]
        lines.append(
            f"{ts} mx1 postfix/{name}/smtp[{100 + i}]: {qid}: to=<u{i}@gmail.com>,"
            f" relay={relay}, delay=1, delays=0/0/0/1, dsn=2.0.0, status={status}"
        )
        if key is not None:
            truth[ip][key] += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return truth, hops


def test_postfix_missing_internal_relay_then_rescan_is_exact(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    truth, hops = postfix_file(log, 2000)
    maps = ["--ip-map=postfix/out2=203.0.113.2", "--ip-map=postfix/out3=203.0.113.3"]
    ok(db_url, "ingest", str(log), "--format", "postfix", *maps)
    wrong = per_ip(db_url)["203.0.113.2"]["delivered"]
    assert wrong == truth["203.0.113.2"]["delivered"] + hops  # hops counted as deliveries
    r = ok(db_url, "ingest", "--rescan", str(log), "--format", "postfix", *maps,
           "--internal-relay", "10.0.0.5:10024")  # fmt: skip
    assert "replaced" in r.stderr
    assert per_ip(db_url) == truth
    internal = db_rows(db_url, "SELECT internal FROM ingest_counter")
    assert [int(x[0]) for x in internal] == [hops]
    fresh = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    ok(fresh, "ingest", str(log), "--format", "postfix", *maps, "--internal-relay=10.0.0.5:10024")
    assert buckets(db_url) == buckets(fresh)


def test_refusals_are_one_line_exit_2(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "acct.csv"
    pmta_file(log, 500)
    never = run(db_url, "ingest", "--rescan", str(log), "--format", "pmta")
    assert never.returncode == 2 and "never ingested" in never.stderr
    assert len(never.stderr.strip().splitlines()) == 1 and "Traceback" not in never.stderr
    ok(db_url, "ingest", str(log), "--format", "pmta")
    before = buckets(db_url)
    data = bytearray(log.read_bytes())
    data[100] = ord("9") if data[100] != ord("9") else ord("8")  # same size, one byte changed
    with log.open("r+b") as f:
        f.write(data)
    changed = run(db_url, "ingest", "--rescan", str(log), "--format", "pmta", *ip_maps())
    assert changed.returncode == 2, changed.stderr
    assert "changed since it was ingested" in changed.stderr
    assert len(changed.stderr.strip().splitlines()) == 1
    bad = run(db_url, "ingest", "--rescan", str(log), "--format", "pmta", "--follow")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    bad = run(db_url, "ingest", str(log), "--format", "pmta", "--dry-run")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert buckets(db_url) == before


def test_kill_9_during_rescan_then_rerun_is_exact(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "acct.csv"
    truth = pmta_file(log, 120_000)
    ok(db_url, "ingest", str(log), "--format", "pmta")
    cmd = [PY, "-m", "opsconsole", "--db", db_url, "ingest", "--rescan", str(log),
           "--format", "pmta", *ip_maps()]  # fmt: skip
    for delay in (0.8, 1.6, 2.4):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        got = per_ip(db_url)
        # all or nothing: either still all unattributed, or exactly the truth
        assert got == {"": {k: sum(t[k] for t in truth.values()) for k in KEYS}} or (
            got == truth
        ), got
    ok(db_url, "ingest", "--rescan", str(log), "--format", "pmta", *ip_maps())
    assert per_ip(db_url) == truth
    counters = "SELECT lines, events, unattributed FROM ingest_counter"
    assert [tuple(r) for r in db_rows(db_url, counters)] == [(120_001, 120_000, 0)]


def test_readme_quick_start_wrong_format_then_right_is_exact(db_url: str, tmp_path: Path) -> None:
    """README "Quick start on your own logs", followed literally on the simulator's log:
    the postfix command with a wrong --format, then the right one; then the same command
    missing its --ip-map (a mistake that reads fine) undone by --rescan."""
    log, truth_file = tmp_path / "mail.log", tmp_path / "truth.json"
    ok(db_url, "simulate", "--format", "postfix", "--out", str(log), "--events", "5000",
       "--truth", str(truth_file))  # fmt: skip
    truth = json.loads(truth_file.read_text())
    want = {ip: {k: c[k] for k in KEYS} for ip, c in truth["per_ip"].items()}
    maps = [f"--ip-map={k}={v}" for k, v in truth["ip_map"].items()]
    wrong = run(db_url, "ingest", str(log), "--format", "pmta", *maps)
    assert wrong.returncode == 2 and "--format postfix" in wrong.stderr
    ok(db_url, "ingest", str(log), "--format", "postfix", *maps)
    assert {ip: v for ip, v in per_ip(db_url).items() if ip} == want
    report = json.loads(ok(db_url, "report", "--format", "json", "--window", "30d").stdout)
    assert {r["ip"] for r in report["ips"]} == set(want)

    other = tmp_path / "mail2.log"
    other.write_bytes(log.read_bytes())
    ok(db_url, "ingest", str(other), "--format", "postfix")  # forgot the --ip-map
    ok(db_url, "ingest", "--rescan", str(other), "--format", "postfix", *maps)
    doubled = {ip: {k: 2 * v[k] for k in KEYS} for ip, v in want.items()}
    assert {ip: v for ip, v in per_ip(db_url).items() if ip} == doubled


def prune(db: str) -> dict[str, int]:
    """The engine's hourly retention (90 days of buckets), run now."""
    import asyncio

    from opsconsole.core.config import RetentionConfig
    from opsconsole.storage.db import open_database
    from opsconsole.storage.store import SqlStore

    async def go() -> dict[str, int]:
        engine = await open_database(db)
        try:
            return await SqlStore(engine).prune(RetentionConfig(), time.time())
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_rescan_never_resurrects_what_retention_dropped(db_url: str, tmp_path: Path) -> None:
    old, mid, new = NOW - 100 * 86400, NOW - 95 * 86400, NOW  # 100 and 95 days ago: dropped
    log = tmp_path / "acct.csv"
    rows = ["type,timeLogged,orig,rcpt,vmta,dlvSourceIp,dsnStatus,dsnDiag"]
    rows += [f"d,{t + i},a@x.test,u{i}@gmail.com,vmta1,,2.0.0 (ok),ok" for t in (old, mid, new)
             for i in range(5)]  # fmt: skip
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ok(db_url, "ingest", str(log), "--format", "pmta")
    assert prune(db_url)["bucket"] == 2  # the two old minutes
    r = ok(db_url, "ingest", "--rescan", str(log), "--format", "pmta", *ip_maps())
    assert "2 bucket rows not written" in r.stderr
    assert per_ip(db_url) == {"203.0.113.1": {"delivered": 5, "bounced": 0, "deferred": 0}}

    # An old file never pruned: the rescan writes its old-dated rows (as ingest does), so a
    # report can show them before the engine's retention next runs.
    log2 = tmp_path / "old.csv"
    log2.write_text("\n".join(rows[:6]) + "\n", encoding="utf-8")
    ok(db_url, "ingest", str(log2), "--format", "pmta")
    ok(db_url, "ingest", "--rescan", str(log2), "--format", "pmta", *ip_maps())
    assert per_ip(db_url)["203.0.113.1"]["delivered"] == 10


def test_postfix_wrong_host_then_rescan_moves_it_to_the_right_one(
    db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "mail.log"
    truth, _ = postfix_file(log, 600)
    maps = ["--ip-map=postfix/out2=203.0.113.2", "--ip-map=postfix/out3=203.0.113.3"]
    relay = "--internal-relay=10.0.0.5:10024"
    ok(db_url, "ingest", str(log), "--format", "postfix", *maps, relay, "--host", "mx-wrong")
    ok(db_url, "ingest", "--rescan", str(log), "--format", "postfix", *maps, relay,
       "--host", "mx1")  # fmt: skip
    assert per_ip(db_url) == truth
    hosts = db_rows(db_url, "SELECT DISTINCT host FROM ip_host ORDER BY host")
    assert [r[0] for r in hosts] == ["mx1"]
    cps = db_rows(db_url, "SELECT host FROM source_checkpoint")
    assert [r[0] for r in cps] == ["mx1"]
    counter = db_rows(db_url, "SELECT host FROM ingest_counter")
    assert [r[0] for r in counter] == ["mx1"]
    # and the right host's plain ingest now adds nothing
    ok(db_url, "ingest", str(log), "--format", "postfix", *maps, relay, "--host", "mx1")
    assert per_ip(db_url) == truth
