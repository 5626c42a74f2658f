"""Issue 14.4: the report carries ``reputation`` and ``snds`` in every format, and the
metrics carry bounded listing gauges.

A real engine (a real SQLite file, the real clock) reads a jsonl source, checks DNSBLs
against the local DNS server and imports SNDS from a local HTTP server; then
``opsconsole report`` runs as a real subprocess in json, csv, markdown and table."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

from opsconsole.metrics import render as metrics
from tests.helpers import dns_server as dns
from tests.helpers.dns_server import DnsServer
from tests.integration import test_reputation_engine as rep
from tests.integration.test_reputation_engine import IP, SPAMCOP, ZEN, healthy, q, run

dns_server = dns.dns_server
snds_http = rep.snds_http
RED = "192.0.2.13"  # RED with 14 trap hits in the SNDS sample


def report(cfg: Path, fmt: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "opsconsole", "--config", str(cfg), "report", "--format", fmt],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_reputation_and_snds_in_every_format_and_bounded_metrics(
    tmp_path: Path, dns_server: DnsServer, snds_http: str
) -> None:
    for z in (SPAMCOP, ZEN):
        healthy(dns_server, z)
    dns_server.set_a(q(IP, SPAMCOP), "127.0.0.2")
    events = tmp_path / "ev.jsonl"
    now = time.time()
    with events.open("w") as f:
        for ip in (IP, RED):
            for i in range(10):
                f.write(json.dumps({"ts": now - 60 + i, "kind": "delivered", "ip": ip}) + "\n")
    cfg = rep.write_config(
        tmp_path,
        f'zones = ["{SPAMCOP}", "{ZEN}"]\nnameservers = ["{dns_server.nameserver}"]\n'
        f'snds_key = "k3y"\nsnds_url = "{snds_http}"\n'
        f'[[sources]]\nname = "ev"\nformat = "jsonl"\npath = "{events}"\n',
    )

    async def go() -> None:
        rt, svc = await run(cfg, time.time)  # type: ignore[arg-type]
        try:
            await rt.tick(force_check=True)
            assert svc.task is not None
            await asyncio.wait_for(svc.task, 30)
        finally:
            await rt.close()

    asyncio.run(go())

    data = json.loads(report(cfg, "json"))
    got = {(r["ip"], r["zone"]): r for r in data["reputation"]}
    assert set(got) == {(IP, SPAMCOP), (IP, ZEN), (RED, SPAMCOP), (RED, ZEN)}
    listed = got[(IP, SPAMCOP)]
    assert {k: listed[k] for k in ("ip", "zone", "listed", "code", "meaning")} == {
        "ip": IP, "zone": SPAMCOP, "listed": True, "code": "127.0.0.2",
        "meaning": "SpamCop: reported spam source",
    }  # fmt: skip
    assert listed["checked_at"].endswith("Z")
    assert [r["listed"] for k, r in sorted(got.items()) if k != (IP, SPAMCOP)] == [False] * 3
    red = [r for r in data["snds"] if r["ip"] == RED]
    assert [(r["filter"], r["trap_hits"], r["provider"]) for r in red] == [("RED", 14, "microsoft")]

    rows = list(csv.DictReader(io.StringIO(report(cfg, "csv"))))
    by_ip = {r["ip"]: r for r in rows if not r["subuser"]}
    assert (by_ip[IP]["listed_on"], by_ip[IP]["snds_filter"]) == (SPAMCOP, "")
    assert (by_ip[RED]["listed_on"], by_ip[RED]["snds_filter"]) == ("", "RED")

    md = report(cfg, "markdown")
    assert f"| {IP} | {SPAMCOP} | listed | 127.0.0.2 | SpamCop: reported spam source |" in md
    assert "\n## SNDS\n" in md and f"| {RED} | " in md and "| RED |" in md
    table = report(cfg, "table")
    line = next(x for x in table.splitlines() if x.startswith(IP) and SPAMCOP in x)
    assert line.split()[:4] == [IP, SPAMCOP, "listed", "127.0.0.2"]
    assert any(x.startswith(RED) and " RED " in x for x in table.splitlines())

    text = metrics(data)
    series = [x for x in text.splitlines() if x.startswith("opsconsole_dnsbl_")]
    assert sorted(series) == sorted([
        f'opsconsole_dnsbl_listed{{ip="{IP}",zone="{SPAMCOP}"}} 1',  # only listed pairs
        f'opsconsole_dnsbl_zone_listed_ips{{zone="{SPAMCOP}"}} 1',
        f'opsconsole_dnsbl_zone_listed_ips{{zone="{ZEN}"}} 0',
    ])  # fmt: skip
    ok = sorted(x for x in text.splitlines() if x.startswith("opsconsole_reputation_source_ok"))
    assert ok == [
        'opsconsole_reputation_source_ok{zone="bl.spamcop.net"} 1',
        'opsconsole_reputation_source_ok{zone="snds"} 0',  # the sample has unparsed rows
        'opsconsole_reputation_source_ok{zone="zen.spamhaus.org"} 1',
    ]
