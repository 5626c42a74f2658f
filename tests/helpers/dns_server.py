"""A real authoritative DNS server on 127.0.0.1 for tests (dnslib, UDP and TCP, one port).

Tests of DNSBL checks and MX rollup must never query a real resolver, and must be able to
prove caching (a query counter), change answers while running (delisting) and observe
concurrency (answers can be delayed; the peak number of queries in flight is recorded).
Zones are plain Python: ``server.set_a(name, "127.0.0.2", ttl=60)``, ``server.set_mx(...)``;
any other name is NXDOMAIN with an SOA whose minimum gives the negative TTL. A name can also
be made to answer SERVFAIL or REFUSED, or to be dropped (no answer: the client times out).

Use the fixture from a test module by binding it at module level::

    from tests.helpers import dns_server as dns

    dns_server = dns.dns_server

``server.nameserver`` is the ``"127.0.0.1:PORT"`` string for ``opsconsole.core.dns.Resolver``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

# dnslib ships no type hints (no py.typed); its objects are Any here.
from dnslib import (  # type: ignore[import-untyped]
    AAAA,
    MX,
    QTYPE,
    RCODE,
    RR,
    SOA,
    A,
    DNSError,
    DNSLabel,
    DNSRecord,
)
from dnslib.server import BaseResolver, DNSLogger, DNSServer  # type: ignore[import-untyped]


def _key(name: str) -> str:
    return name.lower().rstrip(".")


class _Zones(BaseResolver):  # type: ignore[misc]  # subclassing Any: dnslib is untyped
    """The records, counters and fault switches, shared by the UDP and TCP servers."""

    def __init__(self, negative_ttl: int) -> None:
        self.lock = threading.Lock()
        self.a: dict[str, list[tuple[str, int]]] = {}
        self.mx: dict[str, list[tuple[int, str, int]]] = {}
        self.rcode: dict[str, int] = {}
        self.drop: set[str] = set()
        self.queries: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.delay = 0.0
        self.negative_ttl = negative_ttl
        self.in_flight = 0
        self.max_in_flight = 0

    def resolve(self, request: Any, handler: Any) -> Any:
        qname = _key(str(request.q.qname))
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries[qname] += 1
            self.log.append((qname, qtype))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            delay = self.delay
        try:
            if delay:
                time.sleep(delay)
            return self._answer(request, qname, qtype)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, request: Any, qname: str, qtype: str) -> Any:
        reply = request.reply()
        with self.lock:
            if qname in self.drop:
                raise DNSError("dropped")  # dnslib logs it (quietly) and sends nothing
            if qname in self.rcode:
                reply.header.rcode = self.rcode[qname]
                return reply
            a = list(self.a.get(qname, ()))
            mx = list(self.mx.get(qname, ()))
        if not a and not mx:
            reply.header.rcode = RCODE.NXDOMAIN
            soa = SOA("ns.test.", "hostmaster.test.", (1, 3600, 600, 86400, self.negative_ttl))
            reply.add_auth(RR(DNSLabel(qname), QTYPE.SOA, rdata=soa, ttl=self.negative_ttl))
            return reply
        if qtype == "A":
            for address, ttl in a:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=ttl))
        elif qtype == "AAAA":
            for address, ttl in a:
                if ":" in address:
                    reply.add_answer(RR(request.q.qname, QTYPE.AAAA, rdata=AAAA(address), ttl=ttl))
        elif qtype == "MX":
            for pref, host, ttl in mx:
                reply.add_answer(
                    RR(request.q.qname, QTYPE.MX, rdata=MX(host, preference=pref), ttl=ttl)
                )
        return reply  # no matching type: NOERROR, empty answer (NODATA)


class DnsServer:
    """UDP + TCP on one free port of 127.0.0.1, each in a daemon thread."""

    def __init__(self, negative_ttl: int = 300) -> None:
        self.zones = _Zones(negative_ttl)
        quiet = DNSLogger(logf=lambda _msg: None)
        for _attempt in range(20):
            udp = DNSServer(self.zones, port=0, address="127.0.0.1", logger=quiet)
            port: int = udp.server.server_address[1]
            try:
                tcp = DNSServer(self.zones, port=port, address="127.0.0.1", logger=quiet, tcp=True)
            except OSError:  # the TCP side of that port is taken: try another port
                udp.server.server_close()
                continue
            break
        else:  # pragma: no cover - twenty taken ports in a row
            raise RuntimeError("no free port for the test DNS server")
        self.port = port
        self._servers = (udp, tcp)
        for server in self._servers:
            server.server.daemon_threads = True
            threading.Thread(  # a short poll interval keeps teardown fast
                target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
            ).start()

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_a(self, name: str, *addresses: str, ttl: int = 300) -> None:
        """Replace the A (or AAAA, for addresses with ':') records of ``name``."""
        with self.zones.lock:
            self.zones.a[_key(name)] = [(address, ttl) for address in addresses]

    def set_mx(self, domain: str, *hosts: tuple[int, str], ttl: int = 300) -> None:
        with self.zones.lock:
            self.zones.mx[_key(domain)] = [(pref, host, ttl) for pref, host in hosts]

    def remove(self, name: str) -> None:
        """Forget every record and fault of ``name``: it becomes NXDOMAIN."""
        with self.zones.lock:
            for table in (self.zones.a, self.zones.mx, self.zones.rcode):
                table.pop(_key(name), None)
            self.zones.drop.discard(_key(name))

    def fail(self, name: str, rcode: str) -> None:
        """Answer ``name`` with ``rcode`` ("SERVFAIL", "REFUSED") instead of records."""
        with self.zones.lock:
            self.zones.rcode[_key(name)] = getattr(RCODE, rcode)

    def drop(self, name: str) -> None:
        """Never answer ``name`` (the client sees a timeout)."""
        with self.zones.lock:
            self.zones.drop.add(_key(name))

    def set_delay(self, seconds: float) -> None:
        with self.zones.lock:
            self.zones.delay = seconds

    def count(self, name: str) -> int:
        with self.zones.lock:
            return self.zones.queries[_key(name)]

    @property
    def total_queries(self) -> int:
        with self.zones.lock:
            return sum(self.zones.queries.values())

    @property
    def max_in_flight(self) -> int:
        with self.zones.lock:
            return self.zones.max_in_flight

    def queried(self) -> list[tuple[str, str]]:
        """Every (name, type) received, in order."""
        with self.zones.lock:
            return list(self.zones.log)

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer()
    try:
        yield server
    finally:
        server.stop()


def query_once(server: DnsServer, name: str, qtype: str = "A") -> DNSRecord:
    """A raw dnslib query (for checking the helper itself, not the code under test)."""
    packet = DNSRecord.question(name, qtype).send("127.0.0.1", server.port, timeout=2)
    return DNSRecord.parse(packet)
