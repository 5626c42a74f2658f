"""Issue 13.4/13.5 in-process, on SQLite and PostgreSQL: each host's engine (leader or
follower) reads its own log and records its host per IP and source; the report has a
``host`` on every IP and source row and a ``hosts`` section; ``--host`` filters; a host
whose engine stopped stays visible (stale); the health verdict reads all of it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from opsconsole.core import health
from opsconsole.core.views import build_report, status
from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.wiring import engine_config, make_runtime

HOSTS = {"mx1": ["203.0.113.1", "203.0.113.2"], "mx2": ["203.0.113.3"], "mx3": ["203.0.113.4"]}


def write_log(path: Path, ips: list[str], now: float, n: int = 20) -> None:
    with path.open("a") as f:
        for ip in ips:
            for k in range(n):
                f.write(json.dumps({"ts": now - 120 + k, "kind": "delivered", "ip": ip}) + "\n")


def host_settings(db_url: str, tmp_path: Path, host: str) -> Settings:
    return Settings(
        db=db_url,
        host=host,
        sources=[{"name": f"mta-{host}", "format": "jsonl", "path": str(tmp_path / f"{host}.log")}],
        monitor={"lease_ttl": "3s", "check_interval": "1s", "stale_after": "10m"},
    )


async def test_every_host_reads_its_own_log_and_the_report_groups_by_host(
    tmp_path: Path, db_url: str
) -> None:
    now = time.time()
    runtimes, stores = [], []
    for host, ips in HOSTS.items():
        write_log(tmp_path / f"{host}.log", ips, now)
        s = host_settings(db_url, tmp_path, host)
        store = SqlStore(await open_database(db_url))
        stores.append(store)
        runtimes.append(make_runtime(s, store, poll_interval=0.2))
    try:
        for rt in runtimes:
            await rt.tick()
        assert [rt.role for rt in runtimes] == ["leader", "follower", "follower"]
        cfg = engine_config(host_settings(db_url, tmp_path, "mx1"))
        rep = await build_report(stores[0], cfg, now=time.time())
        by_ip = {r["ip"]: (r["host"], r["sent"]) for r in rep["ips"]}
        assert by_ip == {ip: (h, 20) for h, ips in HOSTS.items() for ip in ips}
        assert {s["name"]: s["host"] for s in rep["ingest"]["sources"]} == {
            f"mta-{h}": h for h in HOSTS
        }
        hosts = {h["host"]: h for h in rep["hosts"]}
        assert set(hosts) == set(HOSTS)
        assert all(h["engine_running"] and h["fresh"] for h in hosts.values())
        assert {h: x["role"] for h, x in hosts.items()} == {
            "mx1": "leader", "mx2": "follower", "mx3": "follower",
        }  # fmt: skip
        assert {h: x["ips"] for h, x in hosts.items()} == {h: len(v) for h, v in HOSTS.items()}
        assert {h: x["sources"] for h, x in hosts.items()} == {h: [f"mta-{h}"] for h in HOSTS}

        only = await build_report(stores[0], cfg, now=time.time(), host="mx1")
        assert sorted(r["ip"] for r in only["ips"]) == HOSTS["mx1"]
        assert [s["name"] for s in only["ingest"]["sources"]] == ["mta-mx1"]
        assert [h["host"] for h in only["hosts"]] == ["mx1"]

        # mx3's engine dies without a word (no clean stop): after the heartbeat TTL it is
        # still listed, not running, not fresh; the verdict is degraded, naming it.
        runtimes.pop()
        stores_dead = stores.pop()
        await stores_dead.close()
        later = time.time() + 5
        rep = await build_report(stores[0], cfg, now=later)
        mx3 = next(h for h in rep["hosts"] if h["host"] == "mx3")
        assert (mx3["engine_running"], mx3["fresh"]) == (False, False)
        for rt in runtimes:  # the live ones beat again
            rt.clock = lambda: later
            await rt.tick()
        st = await status(stores[0], cfg, db_url, later)
        fleet = next(c for c in st["health"]["checks"] if c["name"] == "fleet")
        assert fleet == {"name": "fleet", "state": "degraded", "reason": "engine stopped on mx3"}
        assert st["health"]["state"] == "degraded"
    finally:
        for rt in runtimes:
            await rt.close()
        for s in stores:
            await s.close()


def test_health_verdict_states_and_exit_codes() -> None:
    good = {
        "database": "sqlite:///x",
        "engine": {"running": True, "holder": "a:1:x", "heartbeat_age_seconds": 1.0},
        "sources": [{"name": "mta", "age_seconds": 5.0, "stale": False, "error": None}],
        "notifiers": [{"name": "ops", "pending": 0, "retrying": 0, "failed": 0}],
    }
    checks = health.health_checks(good, ["mta"], heartbeat_ttl=30)
    assert [(c.name, c.state) for c in checks] == [
        ("database", "healthy"), ("engine", "healthy"), ("source:mta", "healthy"),
        ("notifier:ops", "healthy"),
    ]  # fmt: skip
    v = health.evaluate(checks)
    assert (v.state, v.exit_code, v.reasons) == ("healthy", 0, ())
    assert health.verdict(good) == ("HEALTHY", [])
    # A file ingested by hand once ("adhoc") is not judged: only configured sources are.
    stale = good | {
        "sources": [
            {"name": "mta", "age_seconds": 900.0, "stale": True, "error": None},
            {"name": "adhoc", "age_seconds": 1e6, "stale": True, "error": None},
        ]
    }
    v = health.evaluate(health.health_checks(stale, ["mta"]))
    assert (v.state, v.exit_code) == ("degraded", 1)
    assert v.reasons == ("source mta stale (no event for 900s)",)
    failing = good | {"notifiers": [{"name": "ops", "retrying": 0, "failed": 2}]}
    v = health.evaluate(health.health_checks(failing, ["mta"]))
    assert v.reasons == ("notifier ops failing (2 failed)",)
    never = good | {"engine": {"running": False, "holder": None, "heartbeat_age_seconds": None}}
    v = health.evaluate(health.health_checks(never, ["mta"]))
    assert (v.state, v.exit_code, v.reasons) == ("degraded", 1, ("no engine holds the lease",))
    dead = good | {"engine": {"running": False, "holder": "a:1:x", "heartbeat_age_seconds": 99}}
    v = health.evaluate(health.health_checks(dead, ["mta"]))
    assert (v.state, v.exit_code) == ("unhealthy", 1)  # 2 is "usage error" for every command
    assert v.reasons == ("the leader's lease expired (a:1:x, heartbeat 99s ago)",)
    bare = good | {"sources": [], "notifiers": []}
    checks = health.health_checks(bare, [])
    assert {c.name: c.state for c in checks}["sources"] == "unconfigured"
    assert {c.name: c.state for c in checks}["notifiers"] == "unconfigured"
    assert health.evaluate(checks).state == "healthy"


def test_cli_host_options_and_status_exit_codes(tmp_path: Path, db_url: str) -> None:
    import os
    import subprocess
    import sys

    now = time.time()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'db = "{db_url}"\n[monitor]\ncheck_interval = "1s"\n')

    def run(*args: str, host: str = "cli") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "OPSCONSOLE_HOST": host}
        cmd = [sys.executable, "-m", "opsconsole", "--config", str(cfg), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)

    for host, ips in HOSTS.items():
        write_log(tmp_path / f"{host}.log", ips, now)
        res = run("ingest", str(tmp_path / f"{host}.log"), "--format", "jsonl", host=host)
        assert res.returncode == 0, res.stderr
    rep = json.loads(run("report", "-f", "json", "--host", "mx1").stdout)
    assert sorted(r["ip"] for r in rep["ips"]) == HOSTS["mx1"]
    assert {r["host"] for r in rep["ips"]} == {"mx1"}
    ok = run("check", "203.0.113.3", "--json", "--host", "mx2")
    assert ok.returncode == 0 and json.loads(ok.stdout)["hosts"] == ["mx2"]
    wrong = run("check", "203.0.113.3", "--host", "mx1")
    assert wrong.returncode == 1 and "not read by host 'mx1'" in wrong.stderr
    st = run("status", "--format", "json", "--host", "mx3")
    assert st.returncode == 1  # ingest by hand only: no engine has ever led, degraded
    data = json.loads(st.stdout)
    assert [s["host"] for s in data["sources"]] == ["mx3"]
    assert data["health"]["state"] == "degraded"
    assert {c["name"]: c["state"] for c in data["health"]["checks"]}["sources"] == "unconfigured"
    table = run("status")  # sources of several hosts: a host column
    lines = table.stdout.splitlines()
    head = lines.index(next(line for line in lines if line.startswith("NAME")))
    assert lines[head].split()[:2] == ["NAME", "HOST"]
    rows = [line.split() for line in lines[head + 1 : head + 4]]
    assert [r[1] for r in rows] == ["mx1", "mx2", "mx3"]
    gone = run("--db", "postgresql+asyncpg://nobody@127.0.0.1:1/none", "status")
    assert gone.returncode == 3, gone.stderr
