"""Issue 13.6 and 18.7: /metrics that ``promtool check metrics`` accepts, bounded label
cardinality (top ``[metrics] top_ips`` IPs plus aggregates), example rules that ``promtool
check rules`` accepts, and a listener with limits and /health, /ready, on a real engine.

``promtool`` comes from Debian's ``prometheus`` package: installed via apt-get when the
tests run as root and it is missing (as tests/e2e does Postfix), else the test skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsconsole.core.engine.setup import apply_config
from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.wiring import engine_config, make_runtime
from tests.helpers.apt import apt_lock

RULES = Path(__file__).resolve().parents[2] / "packaging" / "prometheus" / "opsconsole-rules.yml"
DASHBOARD = RULES.parents[1] / "grafana" / "opsconsole-dashboard.json"
N_IPS = 80
TOP = 10


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        pytest.skip("promtool missing and apt-get unavailable (not root): apt install prometheus")
    with apt_lock():  # another xdist worker may be running apt-get right now
        return _install_promtool(apt)


def _install_promtool(apt: str) -> str:
    found = shutil.which("promtool")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [apt, "-o", "DPkg::Lock::Timeout=120", "install", "-y", "-q"]
    cmd += ["--no-install-recommends", "prometheus"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        subprocess.run([apt, "update"], env=env, capture_output=True, timeout=600)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    found = shutil.which("promtool")
    if not found:
        pytest.skip(f"apt-get install prometheus failed: {proc.stderr.strip()[-300:]}")
    return found


def write_events(path: Path, now: float) -> dict[str, int]:
    """N_IPS IPs, IP i sending 10 + i events (so the top by volume is known)."""
    sent: dict[str, int] = {}
    with path.open("w") as f:
        for i in range(N_IPS):
            ip = f"198.51.100.{i + 1}"
            n = 10 + i
            sent[ip] = n
            for k in range(n):
                kind = "bounced" if k % 10 == 0 else "delivered"
                f.write(json.dumps({"ts": now - 300 + k, "kind": kind, "ip": ip}) + "\n")
        f.write("not json at all\n")  # one malformed line: the counter has a sample
    return sent


@pytest.fixture
async def engine(tmp_path: Path, db_url: str) -> AsyncIterator[tuple[Any, str, dict[str, int]]]:
    now = time.time()
    events = tmp_path / "events.jsonl"
    sent = write_events(events, now)
    settings = Settings(
        db=db_url,
        host="mx-prom",
        sources=[{"name": "ev", "format": "jsonl", "path": str(events)}],
        pools=[{"name": "bulk", "members": [{"ip": "198.51.100.1"}]}],
        metrics={"listen": "127.0.0.1:0", "top_ips": TOP},
    )
    store = SqlStore(await open_database(db_url))
    await apply_config(store, engine_config(settings), now)
    runtime = make_runtime(settings, store)
    try:
        await runtime.tick(force_check=True)
        host, port = runtime.services[0].server.server.sockets[0].getsockname()[:2]
        yield runtime, f"http://{host}:{port}", sent
    finally:
        await runtime.close()
        await store.close()


async def test_metrics_pass_promtool_with_bounded_ip_labels(
    engine: tuple[Any, str, dict[str, int]], promtool: str
) -> None:
    _runtime, base, sent = engine
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{base}/metrics")).text
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # The old name promtool rejects is gone; the counter has its _total and a sample.
    assert "opsconsole_source_malformed_lines{" not in text
    assert 'opsconsole_source_malformed_lines_total{source="ev",host="mx-prom"} 1' in text
    ips = set(re.findall(r'^opsconsole_sent\{ip="([^"]+)"', text, re.M))
    top = sorted(sent, key=lambda ip: (-sent[ip], ip))[:TOP]
    assert ips == set(top)
    assert f"opsconsole_ips_exported {TOP}" in text
    assert f"opsconsole_window_sent {sum(sent.values())}" in text
    by_sev = dict(re.findall(r'^opsconsole_ips\{severity="(\w+)"\} (\d+)', text, re.M))
    assert sum(int(v) for v in by_sev.values()) == N_IPS
    assert 'opsconsole_host_engine_running{host="mx-prom"} 1' in text


def test_example_rules_pass_promtool_and_dashboard_is_json(promtool: str) -> None:
    check = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 7 rules found" in check.stdout
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs and all("opsconsole_" in e for e in exprs)


async def test_health_and_ready(engine: tuple[Any, str, dict[str, int]]) -> None:
    runtime, base, _ = engine
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/health")).text == "ok\n"
        ready = await client.get(f"{base}/ready")
        # A leader with a fresh heartbeat, its source fresh: healthy (no notifier: unconfigured).
        assert (ready.status_code, ready.text.splitlines()[0]) == (200, "healthy")
        assert (await client.post(f"{base}/metrics")).status_code == 405
        assert (await client.get(f"{base}/nope")).status_code == 404
        await runtime.store.release(runtime.holder, time.time())  # no leader any more
        ready = await client.get(f"{base}/ready")
        assert ready.status_code == 503
        assert ready.text.splitlines()[0] == "unhealthy"
        assert "lease expired" in ready.text
        assert (await client.get(f"{base}/health")).status_code == 200  # still alive


async def test_listener_limits_huge_request_line_and_slow_connections(
    engine: tuple[Any, str, dict[str, int]], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, base, _ = engine
    host, port = base.removeprefix("http://").split(":")
    caplog.set_level(logging.DEBUG)
    # A 200 KB request line: one 431, no traceback.
    r, w = await asyncio.open_connection(host, int(port))
    w.write(b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    with_drain = asyncio.wait_for(w.drain(), 5)
    with contextlib.suppress(ConnectionError):
        await with_drain
    head = await asyncio.wait_for(r.readline(), 5)
    assert head.startswith(b"HTTP/1.1 431"), head
    w.close()
    # 300 slow clients (connected, sending nothing): the server holds at most its limit,
    # refuses the rest, and still answers once they are gone.
    conns = [await asyncio.open_connection(host, int(port)) for _ in range(300)]
    await asyncio.sleep(0.3)
    server = runtime.services[0].server.http
    assert server.active <= 64
    assert server.refused >= 300 - 64
    for _, cw in conns:
        cw.close()
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/health")).status_code == 200
    assert not any(rec.exc_info for rec in caplog.records), [
        rec.getMessage() for rec in caplog.records if rec.exc_info
    ]


async def test_binding_beyond_loopback_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from opsconsole.metrics import MetricsServer

    caplog.set_level(logging.WARNING, logger="opsconsole.metrics")
    server = MetricsServer()
    try:
        await server.start("0.0.0.0:0")
    finally:
        await server.close()
    assert any("beyond loopback" in r.getMessage() for r in caplog.records)
    caplog.clear()
    server = MetricsServer()
    try:
        await server.start("127.0.0.1:0")
    finally:
        await server.close()
    assert not any("beyond loopback" in r.getMessage() for r in caplog.records)
