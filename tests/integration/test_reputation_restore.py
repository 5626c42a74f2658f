"""Issue 14.2: a delisting undoes what the listing did, unless someone acted since.

A real engine (make_runtime, a real SQLite file, a fake clock) against the local DNS
server, whose answers the test flips: listed on an acting zone -> deprioritized (audited);
the zone clears -> restored, audited ``restore`` "delisted from ZONE"; an IP still listed on
a second acting zone stays deprioritized until that one clears too; an operator's command
in between wins (nothing restored); a PBL listing never acts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.helpers import dns_server as dns
from tests.helpers.clock import FakeClock
from tests.helpers.dns_server import DnsServer
from tests.integration.test_reputation_engine import (
    IP,
    SPAMCOP,
    ZEN,
    healthy,
    q,
    rows,
    run,
    tick,
    write_config,
)

dns_server = dns.dns_server
BARRACUDA = "b.barracudacentral.org"
RESTORE_REASON = f"restored by engine: delisted from {SPAMCOP}"


def config(tmp: Path, server: DnsServer) -> Path:
    for z in (SPAMCOP, BARRACUDA, ZEN):
        healthy(server, z)
    return write_config(
        tmp,
        f'zones = ["{SPAMCOP}", "{BARRACUDA}", "{ZEN}"]\nnameservers = ["{server.nameserver}"]\n'
        f'[reputation.zone."{SPAMCOP}"]\non_listed = "deprioritize"\n'
        f'[reputation.zone."{BARRACUDA}"]\non_listed = "deprioritize"\n'
        f'[reputation.zone."{ZEN}"]\non_listed = "remove"\n',
    )


def member(db: Path) -> tuple[Any, ...]:
    (m,) = rows(db, "select state, weight, base_weight from pool_member")
    return m


def audits(db: Path) -> list[tuple[Any, ...]]:
    return rows(db, "select actor, action, reason from audit where action in "
                    "('deprioritize', 'remove', 'restore') order by id")  # fmt: skip


async def later(rt: Any, svc: Any, clock: FakeClock) -> None:
    clock.advance(2 * 3600)  # past every answer's TTL and the zone re-probe interval
    await tick(rt, svc)


def test_delisting_restores_once_every_acting_zone_is_clear(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    cfg = config(tmp_path, dns_server)
    dns_server.set_a(q(IP, SPAMCOP), "127.0.0.2", ttl=60)
    dns_server.set_a(q(IP, BARRACUDA), "127.0.0.2", ttl=60)
    dns_server.set_a(q(IP, ZEN), "127.0.0.10", ttl=60)  # PBL: listed, never acts
    db, clock = tmp_path / "o.db", FakeClock()

    async def go() -> None:
        rt, svc = await run(cfg, clock)
        try:
            await tick(rt, svc)
            assert member(db) == ("deprioritized", 10.0, 100.0)
            assert [a[:2] for a in audits(db)] == [("engine", "deprioritize")]

            dns_server.remove(q(IP, SPAMCOP))  # still listed on Barracuda: stays
            await later(rt, svc, clock)
            assert member(db)[0] == "deprioritized"
            assert len(audits(db)) == 1

            dns_server.remove(q(IP, BARRACUDA))  # every acting zone clear (PBL stays)
            await later(rt, svc, clock)
            assert member(db) == ("active", 100.0, 100.0)
            assert audits(db)[1:] == [("engine", "restore", RESTORE_REASON)]
            listed = rows(db, f"select listed from reputation where zone = '{ZEN}'")
            assert listed == [(1,)]  # PBL still listed, never acted on

            await later(rt, svc, clock)  # nothing more to do
            assert len(audits(db)) == 2
        finally:
            await rt.close()

    asyncio.run(go())


def test_an_operator_who_acted_since_is_respected(tmp_path: Path, dns_server: DnsServer) -> None:
    cfg = config(tmp_path, dns_server)
    dns_server.set_a(q(IP, SPAMCOP), "127.0.0.2", ttl=60)
    db, clock = tmp_path / "o.db", FakeClock()

    async def go() -> None:
        rt, svc = await run(cfg, clock)
        try:
            await tick(rt, svc)
            assert member(db)[0] == "deprioritized"
            args = {"pool": "main", "ip": IP, "reason": "investigating"}
            await rt.store.submit("alice", "pool.remove", args, clock())
            await tick(rt, svc)
            assert member(db)[0] == "removed"

            dns_server.remove(q(IP, SPAMCOP))
            await later(rt, svc, clock)
            assert rows(db, "select state from alert") == [("resolved",)]  # delisted
            assert member(db) == ("removed", 0.0, 100.0)  # but alice's removal stands
            assert [a[:2] for a in audits(db)] == [("engine", "deprioritize"), ("alice", "remove")]
        finally:
            await rt.close()

    asyncio.run(go())


def test_a_refused_answer_from_the_acting_zone_restores_nothing(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    cfg = config(tmp_path, dns_server)
    dns_server.set_a(q(IP, SPAMCOP), "127.0.0.2", ttl=60)
    db, clock = tmp_path / "o.db", FakeClock()

    async def go() -> None:
        rt, svc = await run(cfg, clock)
        try:
            await tick(rt, svc)
            assert member(db)[0] == "deprioritized"
            dns_server.set_a(q(IP, SPAMCOP), "127.255.255.255", ttl=60)  # rate limited
            await later(rt, svc, clock)
            assert member(db)[0] == "deprioritized"  # "we do not know" is not a delisting
            assert rows(db, "select state from alert") == [("firing",)]
        finally:
            await rt.close()

    asyncio.run(go())
