"""MX rollup against a real DNS server on 127.0.0.1; time is a settable test clock."""

from __future__ import annotations

import asyncio

from opsconsole.core.dns import Resolver
from opsconsole.core.providers_mx import MxRollup, MxRollupConfig
from tests.helpers import dns_server as dns
from tests.helpers.dns_server import DnsServer

dns_server = dns.dns_server


def mapper(host: str) -> str | None:
    if host.endswith((".google.com", ".googlemail.com")):
        return "google"
    if host.endswith(".protection.outlook.com"):
        return "microsoft"
    return None


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def rollup(server: DnsServer, clock: Clock, **cfg: float) -> MxRollup:
    config = MxRollupConfig(**cfg)  # type: ignore[arg-type]  # test-only keyword passthrough
    return MxRollup(Resolver([server.nameserver], timeout=3.0), mapper, config, clock)


def zones(server: DnsServer) -> None:
    server.set_mx("acme.test", (10, "alt1.aspmx.l.google.com"), (1, "aspmx.l.google.com"))
    server.set_mx("contoso.test", (0, "contoso-test.mail.protection.outlook.com"))
    server.set_mx("self.test", (10, "mx.self.test"))
    server.set_mx("mixed.test", (5, "mx.self.test"), (20, "backup.googlemail.com"))


async def test_resolve_maps_mx_hosts(dns_server: DnsServer) -> None:
    zones(dns_server)
    r = rollup(dns_server, Clock())
    assert await r.resolve("ACME.test.") == "google"
    assert await r.resolve("contoso.test") == "microsoft"
    assert await r.resolve("self.test") is None
    assert await r.resolve("mixed.test") == "google"  # first mapped host by preference
    assert await r.resolve("nowhere.test") is None  # NXDOMAIN


async def test_cache_including_negatives(dns_server: DnsServer) -> None:
    zones(dns_server)
    clock = Clock()
    r = rollup(dns_server, clock, cache_ttl=3600.0)
    for _ in range(3):
        assert await r.resolve("acme.test") == "google"
        assert await r.resolve("nowhere.test") is None
    assert (dns_server.count("acme.test"), dns_server.count("nowhere.test")) == (1, 1)
    dns_server.set_mx("nowhere.test", (1, "x.protection.outlook.com"))
    clock.t += 3599.0
    assert await r.resolve("nowhere.test") is None
    clock.t += 1.0
    assert await r.resolve("nowhere.test") == "microsoft"
    assert dns_server.count("nowhere.test") == 2


async def test_hot_path_never_awaits_and_queues_misses(dns_server: DnsServer) -> None:
    zones(dns_server)
    r = rollup(dns_server, Clock())
    assert r.cached("acme.test") is None
    assert r.cached("Acme.Test") is None  # same domain, queued once
    assert r.cached("contoso.test") is None
    assert r.pending() == ["acme.test", "contoso.test"]
    assert dns_server.total_queries == 0
    assert await r.refresh_pending() == 2
    assert r.pending() == []
    assert r.cached("acme.test") == "google"
    assert r.cached("contoso.test") == "microsoft"
    assert r.pending() == []
    assert await r.refresh_pending() == 0


async def test_pending_queue_and_cache_are_bounded(dns_server: DnsServer) -> None:
    zones(dns_server)
    r = rollup(dns_server, Clock(), max_pending=2, max_entries=2)
    for d in ("acme.test", "contoso.test", "self.test"):
        r.cached(d)
    assert (r.pending(), r.dropped) == (["acme.test", "contoso.test"], 1)
    await r.refresh_pending()
    assert r.cached("acme.test") == "google"  # now the most recently used
    await r.resolve("self.test")  # evicts contoso.test, the least recently used
    assert r.cached("acme.test") == "google"
    assert r.cached("contoso.test") is None
    assert r.pending() == ["contoso.test"]


async def test_concurrent_resolves_share_one_lookup(dns_server: DnsServer) -> None:
    zones(dns_server)
    dns_server.set_delay(0.1)
    r = rollup(dns_server, Clock())
    got = await asyncio.gather(*(r.resolve("acme.test") for _ in range(5)))
    assert got == ["google"] * 5
    assert dns_server.count("acme.test") == 1


async def test_dns_failure_is_a_short_negative(dns_server: DnsServer) -> None:
    dns_server.fail("broken.test", "SERVFAIL")
    clock = Clock()
    r = rollup(dns_server, clock, error_ttl=60.0)
    assert await r.resolve("broken.test") is None
    assert await r.resolve("broken.test") is None
    assert dns_server.count("broken.test") == 1
    dns_server.remove("broken.test")
    dns_server.set_mx("broken.test", (1, "aspmx.l.google.com"))
    clock.t += 60.0
    assert await r.resolve("broken.test") == "google"
