"""DNSBL checks against a real DNS server on 127.0.0.1 (tests/helpers/dns_server.py).

Zones are the built-in catalogue entries, served locally under their real names: the
resolver only ever talks to the local server, so no real blocklist is queried.
"""

from __future__ import annotations

import socket
import time

import pytest

from opsconsole.core.dns import Resolver
from opsconsole.core.reputation.dnsbl import (
    CheckReport,
    DnsblChecker,
    DnsblConfig,
    ListingResult,
    query_name,
)
from opsconsole.core.reputation.listings import DNSBL_LISTED, listing_observations
from opsconsole.core.reputation.zones import ZEN, Zone, ZoneOverride, build_zones
from tests.helpers import dns_server as dns
from tests.helpers.dns_server import DnsServer

dns_server = dns.dns_server

SPAMCOP = "bl.spamcop.net"
IP = "203.0.113.4"


def healthy(server: DnsServer, zone: str) -> None:
    server.set_a(f"2.0.0.127.{zone}", "127.0.0.2", ttl=300)


def checker(
    server: DnsServer, zones: tuple[Zone, ...], **cfg: float
) -> tuple[DnsblChecker, DnsblConfig]:
    config = DnsblConfig(**cfg)  # type: ignore[arg-type]  # test-only keyword passthrough
    resolver = Resolver([server.nameserver], timeout=3.0)
    return DnsblChecker(resolver, zones, config, clock=time.monotonic), config


def result(report: CheckReport, ip: str, zone: str) -> ListingResult:
    (found,) = [r for r in report.results if r.ip == ip and r.zone == zone]
    return found


def test_query_names_exact() -> None:
    assert query_name("203.0.113.4", ZEN) == "4.113.0.203.zen.spamhaus.org"
    assert query_name("2001:db8::1", "zen.spamhaus.org") == (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org"
    )
    with pytest.raises(ValueError):
        query_name("not-an-ip", ZEN)


def test_dqs_key_moves_zen_queries() -> None:
    zones = build_zones([ZEN, SPAMCOP], dqs_key="abc123")
    assert [(z.name, z.queried) for z in zones] == [
        (ZEN, "abc123.zen.dq.spamhaus.net"),
        (SPAMCOP, SPAMCOP),
    ]


async def test_dqs_queries_and_messages_hide_the_key(dns_server: DnsServer) -> None:
    dqs = "k3y.zen.dq.spamhaus.net"
    healthy(dns_server, dqs)
    dns_server.set_a(query_name(IP, dqs), "127.0.0.2")
    zones = build_zones([ZEN], dqs_key="k3y")
    c, _ = checker(dns_server, zones)
    report = await c.check([IP], now=0.0)
    assert result(report, IP, ZEN).listed
    assert dns_server.count("4.113.0.203.k3y.zen.dq.spamhaus.net") == 1
    (o,) = listing_observations(report, zones).listed
    assert "k3y" not in o.message + o.title + o.lookup_url
    assert o.message == (
        "203.0.113.4 is listed on Spamhaus ZEN (zen.spamhaus.org): "
        "SBL: Spamhaus Block List (spam source) [127.0.0.2]. "
        "Delisting/lookup: https://check.spamhaus.org/listed/?searchterm=203.0.113.4"
    )


async def test_listed_ip_gets_zone_meaning(dns_server: DnsServer) -> None:
    healthy(dns_server, ZEN)
    dns_server.set_a(query_name(IP, ZEN), "127.0.0.4", ttl=120)
    zones = build_zones([ZEN])
    c, _ = checker(dns_server, zones)
    report = await c.check([IP, "198.51.100.7"], now=1000.0)
    hit = result(report, IP, ZEN)
    assert (hit.listed, hit.codes, hit.severity, hit.acts) == (
        True,
        ("127.0.0.4",),
        "critical",
        True,
    )
    assert hit.meanings == ("XBL: exploited host (botnet, open proxy)",)
    assert hit.expires_at == 1120.0
    clean = result(report, "198.51.100.7", ZEN)
    assert (clean.listed, clean.known, clean.expires_at) == (False, True, 1300.0)  # SOA min 300
    assert [h.state for h in report.health] == ["ok"]
    obs = listing_observations(report, zones)
    (o,) = obs.listed
    assert (o.rule, o.ip, o.zone, o.severity, o.action) == (
        DNSBL_LISTED,
        IP,
        ZEN,
        "critical",
        "deprioritize",
    )
    assert "https://check.spamhaus.org/listed/?searchterm=203.0.113.4" in o.message
    assert "XBL" in o.message


async def test_pbl_is_informational_and_never_acts(dns_server: DnsServer) -> None:
    healthy(dns_server, ZEN)
    dns_server.set_a(query_name(IP, ZEN), "127.0.0.10")
    zones = build_zones([ZEN], overrides={ZEN: ZoneOverride(on_listed="remove")})
    c, _ = checker(dns_server, zones)
    report = await c.check([IP], now=0.0)
    (o,) = listing_observations(report, zones).listed
    assert (o.severity, o.action) == ("info", None)


async def test_refused_answer_is_never_a_listing(dns_server: DnsServer) -> None:
    healthy(dns_server, ZEN)
    dns_server.set_a(query_name(IP, ZEN), "127.255.255.254")
    zones = build_zones([ZEN])
    c, _ = checker(dns_server, zones)
    report = await c.check([IP], now=0.0)
    r = result(report, IP, ZEN)
    assert (r.listed, r.refused, r.known) == (False, True, False)
    assert r.error == "lookup refused (127.255.255.254: query came through a public/open resolver)"
    assert report.health[0].state == "refused"
    assert any("DQS" in w for w in report.warnings)
    assert listing_observations(report, zones, [(IP, ZEN)]).cleared == ()
    # not cached: the next check asks again
    before = dns_server.count(query_name(IP, ZEN))
    await c.check([IP], now=1.0)
    assert dns_server.count(query_name(IP, ZEN)) == before + 1


async def test_refused_test_address_marks_zone_refused(dns_server: DnsServer) -> None:
    dns_server.set_a("2.0.0.127.bl.spamcop.net", "127.255.255.255")
    c, _ = checker(dns_server, build_zones([SPAMCOP]))
    report = await c.check([IP], now=0.0)
    assert report.health[0].state == "refused"
    assert "DQS" in report.health[0].reason
    assert result(report, IP, SPAMCOP).skipped is not None
    assert dns_server.count(query_name(IP, SPAMCOP)) == 0


async def test_zone_listing_the_world_is_dead(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    dns_server.set_a("1.0.0.127.bl.spamcop.net", "127.0.0.2")
    dns_server.set_a(query_name(IP, SPAMCOP), "127.0.0.2")
    zones = build_zones([SPAMCOP])
    c, _ = checker(dns_server, zones)
    report = await c.check([IP], now=0.0)
    assert report.health[0].state == "dead"
    assert report.health[0].reason == "lists the world (answers for 127.0.0.1)"
    r = result(report, IP, SPAMCOP)
    assert (r.listed, r.skipped) == (False, "zone dead: lists the world (answers for 127.0.0.1)")
    assert listing_observations(report, zones).listed == ()
    assert dns_server.count(query_name(IP, SPAMCOP)) == 0


async def test_zone_without_test_listing_is_dead(dns_server: DnsServer) -> None:
    c, _ = checker(dns_server, build_zones([SPAMCOP]))
    report = await c.check([IP], now=0.0)
    assert (report.health[0].state, report.health[0].reason) == (
        "dead",
        "answers nothing for test address 127.0.0.2",
    )
    assert report.warnings == ("bl.spamcop.net: answers nothing for test address 127.0.0.2",)


async def test_health_reprobed_once_per_interval(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    c, _ = checker(dns_server, build_zones([SPAMCOP]), health_interval=600.0)
    await c.check([IP], now=0.0)
    await c.check([IP], now=599.0)
    assert dns_server.count("2.0.0.127.bl.spamcop.net") == 1
    dns_server.remove("2.0.0.127.bl.spamcop.net")  # the zone stops answering its test address
    report = await c.check([IP], now=600.0)
    assert dns_server.count("2.0.0.127.bl.spamcop.net") == 2
    assert report.health[0].state == "dead"


async def test_delisting_after_ttl_expiry_clears(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    name = query_name(IP, SPAMCOP)
    dns_server.set_a(name, "127.0.0.2", ttl=600)
    zones = build_zones([SPAMCOP])
    c, _ = checker(dns_server, zones)
    first = await c.check([IP], now=0.0)
    assert result(first, IP, SPAMCOP).listed
    dns_server.remove(name)
    cached = await c.check([IP], now=599.0)
    assert result(cached, IP, SPAMCOP).listed
    assert dns_server.count(name) == 1  # served from the cache
    later = await c.check([IP], now=600.0)
    assert not result(later, IP, SPAMCOP).listed
    assert dns_server.count(name) == 2
    obs = listing_observations(later, zones, [(IP, SPAMCOP), ("192.0.2.9", SPAMCOP)])
    assert obs.listed == ()
    assert [(d.rule, d.ip, d.zone) for d in obs.cleared] == [(DNSBL_LISTED, IP, SPAMCOP)]


async def test_cache_and_min_ttl_prove_by_query_count(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    name = query_name(IP, SPAMCOP)
    dns_server.set_a(name, "127.0.0.2", ttl=5)  # below min_ttl: held for 60 s
    c, _ = checker(dns_server, build_zones([SPAMCOP]), min_ttl=60)
    for now in (0.0, 10.0, 59.0):
        await c.check([IP, IP], now=now)
    assert dns_server.count(name) == 1
    await c.check([IP], now=60.0)
    assert dns_server.count(name) == 2


async def test_cache_is_bounded(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    # One lookup at a time: the cache keeps results in the order their answers arrive, and
    # concurrent lookups may be answered in any order (under load, 192.0.2.2 before .1).
    c, _ = checker(dns_server, build_zones([SPAMCOP]), max_entries=2, concurrency=1)
    ips = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    await c.check(ips, now=0.0)
    await c.check(ips[1:], now=1.0)  # the two newest are cached
    assert [dns_server.count(query_name(ip, SPAMCOP)) for ip in ips] == [1, 1, 1]
    await c.check(ips[:1], now=2.0)  # the oldest was evicted
    assert dns_server.count(query_name(ips[0], SPAMCOP)) == 2


async def test_concurrency_bound(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    dns_server.set_delay(0.1)
    ips = [f"192.0.2.{i}" for i in range(1, 13)]
    c, _ = checker(
        dns_server, build_zones([SPAMCOP]), concurrency=3, per_zone_rate=1000.0, burst=1000.0
    )
    report = await c.check(ips, now=0.0)
    assert all(r.known and not r.listed for r in report.results)
    assert dns_server.total_queries == 2 + 12
    assert dns_server.max_in_flight == 3


async def test_ipv6_listing_query_name(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    ip6 = "2001:db8::25"
    dns_server.set_a(query_name(ip6, SPAMCOP), "127.0.0.2")
    c, _ = checker(dns_server, build_zones([SPAMCOP]))
    report = await c.check([ip6], now=0.0)
    assert result(report, ip6, SPAMCOP).listed
    assert (
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.spamcop.net",
        "A",
    ) in dns_server.queried()


async def test_closed_port_is_a_timeout_health_state() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    resolver = Resolver([f"127.0.0.1:{port}"], timeout=0.3)
    c = DnsblChecker(resolver, build_zones([SPAMCOP]), DnsblConfig(deadline=5.0), time.monotonic)
    report = await c.check([IP], now=0.0)
    assert report.timed_out is False
    assert (report.health[0].state, report.health[0].reason) == (
        "error",
        "test lookup failed: timeout",
    )
    assert result(report, IP, SPAMCOP).skipped == "zone error: test lookup failed: timeout"


async def test_overall_deadline_never_hangs(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    dns_server.drop(query_name(IP, SPAMCOP))
    resolver = Resolver([dns_server.nameserver], timeout=5.0)
    c = DnsblChecker(resolver, build_zones([SPAMCOP]), DnsblConfig(deadline=0.5), time.monotonic)
    report = await c.check([IP], now=0.0)
    assert report.timed_out is True
    assert result(report, IP, SPAMCOP).error == "deadline"
    assert "DNSBL check stopped at its 0.5s deadline" in report.warnings


async def test_servfail_is_a_result_error_not_an_exception(dns_server: DnsServer) -> None:
    healthy(dns_server, SPAMCOP)
    dns_server.fail(query_name(IP, SPAMCOP), "SERVFAIL")
    c, _ = checker(dns_server, build_zones([SPAMCOP]))
    report = await c.check([IP, "bogus"], now=0.0)
    assert result(report, IP, SPAMCOP).error == "SERVFAIL"
    assert result(report, "bogus", SPAMCOP).error == "not an IP address"


def test_build_zones_config() -> None:
    with pytest.raises(ValueError, match="unknown DNSBL zone"):
        build_zones(["dnsbl.example.test"])
    private = Zone("rbl.example.test", "Private RBL", "https://rbl.example.test/?q={ip}")
    zones = build_zones(
        [SPAMCOP],
        extra=[private],
        overrides={SPAMCOP: ZoneOverride(on_listed="remove", severity="critical")},
    )
    assert [z.name for z in zones] == [SPAMCOP, "rbl.example.test"]
    assert (zones[0].on_listed, zones[0].meaning("127.0.0.2").severity) == ("remove", "critical")
    assert zones[1].url_for("192.0.2.1") == "https://rbl.example.test/?q=192.0.2.1"
