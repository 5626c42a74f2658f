"""Issue 14: every DNS/HTTP failure of the reputation job is a health state in ``status``.

A real engine (make_runtime, a real SQLite file, the real clock so its lease is fresh for
``status``) and ``opsconsole status`` as a real subprocess. A black-hole nameserver (a UDP
socket on 127.0.0.1 that never answers) makes the run end by its deadline with the zone
degraded (its failed lookups counted) and ``status`` exit 1; a dead zone (lists the
world) is a warning and ``status`` exits 0; a refused zone carries the DQS hint."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import dns_server as dns
from tests.helpers.dns_server import DnsServer
from tests.integration.test_reputation_engine import IP, SPAMCOP, ZEN, healthy, q, run, write_config

dns_server = dns.dns_server
DEAD = "dnsbl-1.uceprotect.net"


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A UDP nameserver address that receives and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def status(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", "--config", str(cfg), "status", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def checks(res: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(res.stdout)["health"]["checks"]}


async def one_run(cfg: Path) -> Any:
    """Tick once and wait for the reputation run; the runtime stays open (fresh lease)."""
    rt, svc = await run(cfg, time.time)  # type: ignore[arg-type]
    await asyncio.wait_for(rt.tick(force_check=True), 10)  # the tick never waits for DNS
    assert svc.task is not None
    await asyncio.wait_for(svc.task, 30)  # hang guard; the run's own deadline is 3 s
    return rt


def test_a_black_hole_nameserver_is_a_degraded_zone(tmp_path: Path, black_hole: str) -> None:
    cfg = write_config(
        tmp_path,
        f'zones = ["{SPAMCOP}"]\nnameservers = ["{black_hole}"]\ntimeout = "1s"\ndeadline = "3s"\n',
    )

    async def go() -> None:
        rt = await one_run(cfg)
        try:
            res = await asyncio.to_thread(status, cfg, "--format", "json")
            assert res.returncode == 1, res.stderr
            c = checks(res)[f"dnsbl:{SPAMCOP}"]
            assert c["state"] == "degraded"
            assert c["reason"].startswith(f"DNSBL {SPAMCOP} failing: test lookup failed:")
            assert "timeout" in c["reason"] and c["reason"].endswith("(2 of 2 lookups failed)")
            rows = {r["zone"]: r for r in json.loads(res.stdout)["reputation"]}
            assert rows["reputation"]["state"] == "ok"  # the run itself ended by its deadline
            row = rows[SPAMCOP]
            assert (row["zone"], row["state"], row["lookups"], row["failures"]) == (
                SPAMCOP,
                "error",
                2,
                2,
            )
            assert row["last_ok_at"] is None and "timeout" in row["last_error"]
            table = await asyncio.to_thread(status, cfg)
            assert table.returncode == 1
            line = next(x for x in table.stdout.splitlines() if x.startswith(SPAMCOP))
            assert line.split()[:3] == [SPAMCOP, "error", "2/2"]
            assert "Traceback" not in table.stdout + table.stderr
        finally:
            await rt.close()

    asyncio.run(go())


def test_dead_zone_is_a_warning_refused_is_degraded(tmp_path: Path, dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    healthy(dns_server, DEAD)
    dns_server.set_a(q("127.0.0.1", DEAD), "127.0.0.2")  # lists the world
    cfg = write_config(
        tmp_path,
        f'zones = ["{SPAMCOP}", "{DEAD}"]\nnameservers = ["{dns_server.nameserver}"]\n',
    )

    async def go() -> None:
        rt = await one_run(cfg)
        try:
            res = await asyncio.to_thread(status, cfg, "--format", "json")
            assert res.returncode == 0, res.stdout
            c = checks(res)
            assert c[f"dnsbl:{DEAD}"] == {
                "name": f"dnsbl:{DEAD}", "state": "warning",
                "reason": f"DNSBL {DEAD} dead, skipped: lists the world (answers for 127.0.0.1)",
            }  # fmt: skip
            assert c[f"dnsbl:{SPAMCOP}"]["state"] == "healthy"
            assert "reputation" not in c  # a run that went fine is no check of its own
            assert json.loads(res.stdout)["health"]["state"] == "healthy"
        finally:
            await rt.close()

    asyncio.run(go())


def test_refused_zone_is_degraded_with_the_dqs_hint(tmp_path: Path, dns_server: DnsServer) -> None:
    dns_server.set_a(q("127.0.0.2", ZEN), "127.255.255.254")
    dns_server.set_a(q("127.0.0.1", ZEN), "127.255.255.254")
    dns_server.set_a(q(IP, ZEN), "127.255.255.254")
    cfg = write_config(tmp_path, f'zones = ["{ZEN}"]\nnameservers = ["{dns_server.nameserver}"]\n')

    async def go() -> None:
        rt = await one_run(cfg)
        try:
            res = await asyncio.to_thread(status, cfg, "--format", "json")
            assert res.returncode == 1
            c = checks(res)[f"dnsbl:{ZEN}"]
            assert c["state"] == "degraded"
            assert "lookup refused (127.255.255.254" in c["reason"]
            assert "dqs_key" in c["reason"]
        finally:
            await rt.close()

    asyncio.run(go())
