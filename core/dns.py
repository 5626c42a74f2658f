"""A small async DNS resolver that reports failures as values, never as exceptions.

Reputation checks and MX rollup run inside the engine loop: a lost resolver, a SERVFAIL or a
rate-limited blocklist must become a health state the operator sees, not a crashed task.
So every lookup returns a ``LookupResult`` whose ``status`` is ``ok``, ``nxdomain``,
``nodata`` or ``error`` (with a short ``error`` reason such as ``timeout`` or ``SERVFAIL``).

Nameservers are given explicitly (``"127.0.0.1:5353"``, ``"[::1]:53"``, ``"9.9.9.9"``); only
``None`` means "the system's configuration", which is for production. Search domains are
never applied: blocklist names are absolute. Reasons never repeat the query name, because a
Spamhaus DQS key is part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

LookupStatus = Literal["ok", "nxdomain", "nodata", "error"]


@dataclass(frozen=True, slots=True, order=True)
class MxHost:
    preference: int
    host: str  # lower case, no trailing dot


@dataclass(frozen=True, slots=True)
class LookupResult:
    """One lookup. ``ttl`` is the answer's TTL, or for NXDOMAIN/NODATA the negative TTL from
    the SOA in the authority section (None when the server sent none)."""

    status: LookupStatus
    addresses: tuple[str, ...] = ()
    mx: tuple[MxHost, ...] = ()
    ttl: int | None = None
    error: str | None = None


class ALookup(Protocol):
    """What the reputation checks need from a resolver (so tests can count or wrap it)."""

    async def lookup_a(self, name: str) -> LookupResult: ...


class MxLookup(Protocol):
    async def lookup_mx(self, domain: str) -> LookupResult: ...


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``"host"``, ``"host:port"``, ``"[v6]:port"`` or a bare IPv6 address -> (host, port)."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if spec.count(":") == 1:
        host, _, port = spec.partition(":")
        return host, int(port)
    return spec, 53


def _negative_ttl(response: dns.message.Message | None) -> int | None:
    if response is None:
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            minimum = min((int(rd.minimum) for rd in rrset), default=rrset.ttl)
            return min(int(rrset.ttl), minimum)
    return None


def _no_nameservers_reason(exc: dns.resolver.NoNameservers) -> str:
    """The rcode or failure the servers gave, e.g. ``SERVFAIL``, ``REFUSED``, ``unreachable``."""
    reasons: list[str] = []
    for entry in exc.kwargs.get("errors", ()):
        error, response = entry[3], entry[4]
        if isinstance(response, dns.message.Message):
            reasons.append(dns.rcode.to_text(response.rcode()))
        elif isinstance(error, ConnectionRefusedError):
            reasons.append("unreachable")
        elif isinstance(error, dns.exception.Timeout):
            reasons.append("timeout")
        elif isinstance(error, OSError):
            reasons.append("network error")
        else:
            reasons.append(type(error).__name__)
    return reasons[-1] if reasons else "no nameservers"


class Resolver:
    """dnspython's async resolver with explicit servers, a total deadline per lookup and no
    cache of its own (callers cache by the answer's TTL, and tests count queries)."""

    def __init__(
        self, nameservers: list[str] | None, timeout: float = 3.0, *, lifetime: float | None = None
    ) -> None:
        if nameservers is None:
            self._resolver = dns.asyncresolver.Resolver(configure=True)
        else:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            servers: list[dns.nameserver.Nameserver | str] = []
            for spec in nameservers:
                host, port = parse_nameserver(spec)
                servers.append(dns.nameserver.Do53Nameserver(host, port))
            self._resolver.nameservers = servers
        self._resolver.timeout = timeout
        self._resolver.lifetime = lifetime if lifetime is not None else timeout
        self._resolver.cache = None
        self._resolver.retry_servfail = False

    async def _query(self, name: str, rdtype: str) -> LookupResult | dns.resolver.Answer:
        try:
            return await self._resolver.resolve(
                dns.name.from_text(name), rdtype, search=False, raise_on_no_answer=True
            )
        except dns.resolver.NXDOMAIN as exc:
            responses = list(exc.kwargs.get("responses", {}).values())
            return LookupResult("nxdomain", ttl=_negative_ttl(responses[0] if responses else None))
        except dns.resolver.NoAnswer as exc:
            response = exc.kwargs.get("response")
            return LookupResult("nodata", ttl=_negative_ttl(response))
        except dns.resolver.NoNameservers as exc:
            return LookupResult("error", error=_no_nameservers_reason(exc))
        except dns.exception.Timeout:
            return LookupResult("error", error="timeout")
        except dns.name.LabelTooLong:
            return LookupResult("error", error="name too long")
        except dns.exception.DNSException as exc:
            return LookupResult("error", error=type(exc).__name__)
        except OSError:
            return LookupResult("error", error="network error")

    async def lookup_a(self, name: str) -> LookupResult:
        answer = await self._query(name, "A")
        if isinstance(answer, LookupResult):
            return answer
        addresses = tuple(sorted(rd.to_text() for rd in answer))
        ttl = answer.rrset.ttl if answer.rrset is not None else None
        return LookupResult("ok", addresses=addresses, ttl=ttl)

    async def lookup_mx(self, domain: str) -> LookupResult:
        answer = await self._query(domain, "MX")
        if isinstance(answer, LookupResult):
            return answer
        hosts = sorted(
            MxHost(int(rd.preference), rd.exchange.to_text(omit_final_dot=True).lower())
            for rd in answer
        )
        ttl = answer.rrset.ttl if answer.rrset is not None else None
        return LookupResult("ok", mx=tuple(hosts), ttl=ttl)
