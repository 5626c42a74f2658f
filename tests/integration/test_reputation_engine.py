"""The reputation job inside a real engine (make_runtime, a real SQLite file, a fake clock)
against a local authoritative DNS server and a local SNDS HTTP server: listings open alerts
with the zone's meaning, refused answers are never listings, a world-listing zone is dead,
delisting resolves, SNDS RED raises a microsoft alert, a silent server is a health state."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsconsole.core.engine.setup import apply_config
from opsconsole.core.reputation.job import ReputationService
from opsconsole.settings import load_settings
from opsconsole.storage.store import open_store
from opsconsole.wiring import engine_config, make_runtime
from tests.helpers import dns_server as dns
from tests.helpers.clock import FakeClock
from tests.helpers.dns_server import DnsServer

dns_server = dns.dns_server
IP = "203.0.113.4"
SPAMCOP = "bl.spamcop.net"
ZEN = "zen.spamhaus.org"
DATA = Path(__file__).parent.parent / "unit" / "snds_data"


def q(ip: str, zone: str) -> str:
    return ".".join([*reversed(ip.split(".")), zone])


def healthy(server: DnsServer, zone: str) -> None:
    server.set_a(q("127.0.0.2", zone), "127.0.0.2", ttl=60)


def write_config(tmp: Path, rep: str) -> Path:
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'db = "sqlite+aiosqlite:///{tmp}/o.db"\nhost = "t"\n'
        f'[[pools]]\nname = "main"\nmembers = [{{ ip = "{IP}" }}]\n'
        f"[reputation]\n{rep}\n"
    )
    return cfg


async def run(cfg: Path, clock: FakeClock) -> tuple[Any, ReputationService]:
    settings = load_settings(cfg)
    store = await open_store(settings.db)
    await apply_config(store, engine_config(settings), clock())
    rt = make_runtime(settings, store, clock=clock)
    (svc,) = [s for s in rt.services if isinstance(s, ReputationService)]
    return rt, svc


async def tick(rt: Any, svc: ReputationService) -> None:
    await rt.tick(force_check=True)
    if svc.task is not None:
        await asyncio.wait_for(svc.task, 30)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_listing_refused_dead_and_delisting(tmp_path: Path, dns_server: DnsServer) -> None:
    dead = "dnsbl-1.uceprotect.net"
    for z in (SPAMCOP, ZEN, dead):
        healthy(dns_server, z)
    dns_server.set_a(q("127.0.0.1", dead), "127.0.0.2")  # lists the world
    dns_server.set_a(q(IP, SPAMCOP), "127.0.0.2")
    dns_server.set_a(q(IP, ZEN), "127.255.255.254")
    cfg = write_config(
        tmp_path,
        f'zones = ["{SPAMCOP}", "{ZEN}", "{dead}"]\nnameservers = ["{dns_server.nameserver}"]\n'
        f'[reputation.zone."{SPAMCOP}"]\non_listed = "deprioritize"\n',
    )
    clock = FakeClock()
    db = tmp_path / "o.db"

    async def go() -> None:
        rt, svc = await run(cfg, clock)
        try:
            await tick(rt, svc)
            alerts = rows(db, "select rule, key, state, message from alert")
            assert [(a[0], a[1], a[2]) for a in alerts] == [
                ("dnsbl_listed", f"dnsbl_listed|{IP}|{SPAMCOP}", "firing")
            ]
            assert "SpamCop: reported spam source" in alerts[0][3]
            assert "https://www.spamcop.net/bl.shtml?203.0.113.4" in alerts[0][3]
            rep = rows(db, "select zone, listed, refused, error from reputation order by zone")
            refused = "lookup refused (127.255.255.254: query came through a public/open resolver)"
            assert rep == [(SPAMCOP, 1, 0, None), (ZEN, 0, 1, refused)]  # dead zone: skipped
            health = dict(rows(db, "select zone, state from zone_health"))
            assert health[dead] == "dead"
            assert health[ZEN] == "refused"
            reason = rows(db, f"select reason from zone_health where zone = '{ZEN}'")[0][0]
            assert "DQS" in reason or "dqs_key" in reason
            assert not any(r[0] == ZEN and r[1] for r in rep)  # refused is never listed
            member = rows(db, "select state from pool_member")
            assert member == [("deprioritized",)]
            audit = rows(db, "select action, ip, reason from audit where action='deprioritize'")
            assert audit and audit[0][1] == IP and SPAMCOP in audit[0][2]

            dns_server.remove(q(IP, SPAMCOP))
            clock.advance(3600 * 2)
            await tick(rt, svc)
            assert rows(db, "select state from alert") == [("resolved",)]
            ch = rows(db, f"select state from reputation_change where source='{SPAMCOP}'")
            assert ch == [("listed",), ("clear",)]
        finally:
            await rt.close()

    asyncio.run(go())


@pytest.fixture
def snds_http() -> Iterator[str]:
    usage = (DATA / "usage.csv").read_bytes()
    status = (DATA / "ipstatus.csv").read_bytes()

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = usage if self.path.startswith("/snds/data.aspx") else status
            if "key=k3y" not in self.path:
                self.send_response(403)
                body = b"denied"
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/snds/"
    srv.shutdown()
    srv.server_close()


def test_snds_import_red_raises_microsoft_alert(tmp_path: Path, snds_http: str) -> None:
    cfg = write_config(tmp_path, f'zones = []\nsnds_key = "k3y"\nsnds_url = "{snds_http}"\n')
    db = tmp_path / "o.db"

    async def go() -> None:
        rt, svc = await run(cfg, FakeClock())
        try:
            await tick(rt, svc)
        finally:
            await rt.close()

    asyncio.run(go())
    red = rows(db, "select filter, trap_hits from snds where ip = '192.0.2.13'")
    assert red == [("RED", 14)]
    keys = {r[0] for r in rows(db, "select key from alert where state = 'firing'")}
    assert "snds_filter|192.0.2.13|microsoft" in keys
    sev = rows(db, "select severity from alert where key = 'snds_filter|192.0.2.13|microsoft'")
    assert sev == [("critical",)]


def test_snds_bad_key_is_a_health_state(tmp_path: Path, snds_http: str) -> None:
    cfg = write_config(tmp_path, f'zones = []\nsnds_key = "wrong"\nsnds_url = "{snds_http}"\n')

    async def go() -> None:
        rt, svc = await run(cfg, FakeClock())
        try:
            await tick(rt, svc)
        finally:
            await rt.close()

    asyncio.run(go())
    h = rows(tmp_path / "o.db", "select state, reason from zone_health where zone = 'snds'")
    assert h == [("error", "SNDS data: HTTP 403")]


def test_silent_dns_server_is_a_health_state_not_a_hung_tick(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    dns_server.drop(q("127.0.0.2", SPAMCOP))
    dns_server.drop(q("127.0.0.1", SPAMCOP))
    cfg = write_config(
        tmp_path,
        f'zones = ["{SPAMCOP}"]\nnameservers = ["{dns_server.nameserver}"]\n'
        'timeout = "1s"\ndeadline = "3s"\n',
    )

    async def go() -> None:
        rt, svc = await run(cfg, FakeClock())
        try:
            await asyncio.wait_for(rt.tick(force_check=True), 2.0)  # the tick never waits
            assert svc.task is not None
            await asyncio.wait_for(svc.task, 10)
        finally:
            await rt.close()

    asyncio.run(go())
    h = rows(tmp_path / "o.db", f"select state, reason from zone_health where zone='{SPAMCOP}'")
    assert h[0][0] == "error" and "timeout" in h[0][1]
