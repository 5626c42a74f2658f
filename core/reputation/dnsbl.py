"""DNSBL checks: is each sending IP listed, by which zone, and can the zone be trusted?

A blocklist answer is only evidence when the zone is healthy, so each zone is first probed
with its test addresses (127.0.0.2 must be listed, 127.0.0.1 must not) and re-probed once per
``health_interval``; a zone that lists the world or answers nothing is skipped with a
warning rather than turning every IP red or green. Answers in 127.255.255.0/24 are Spamhaus'
"lookup refused" codes (typo, public resolver, rate limit): a failure, never a listing.

Queries are bounded (a semaphore), paced per zone (token bucket, real time from ``clock``),
cached per (ip, zone) for the answer's TTL (negative answers for the SOA's negative TTL,
clamped to ``min_ttl``..``max_ttl``), and the whole check has a deadline. ``now`` is the
caller's time for cache and health cadence, so tests expire a TTL without waiting.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from opsconsole.core.dns import ALookup, LookupResult
from opsconsole.core.reputation.zones import SEVERITY_RANK, AlertSeverity, Zone

HealthState = Literal["unknown", "ok", "dead", "refused", "error"]
REFUSED_NET = ipaddress.ip_network("127.255.255.0/24")
REFUSED_MEANING = {
    "127.255.255.252": "typing error in the zone name",
    "127.255.255.254": "query came through a public/open resolver",
    "127.255.255.255": "rate limited (too many queries)",
}
DQS_ADVICE = "use a Spamhaus DQS key (free) or a local resolver: set [reputation] dqs_key"


def query_name(ip: str, zone: str) -> str:
    """``203.0.113.4`` -> ``4.113.0.203.ZONE``; IPv6 -> its 32 nibbles reversed. Raises
    ``ValueError`` for something that is not an address."""
    address = ipaddress.ip_address(ip.strip())
    if isinstance(address, ipaddress.IPv4Address):
        labels = reversed(str(address).split("."))
    else:
        labels = reversed(address.exploded.replace(":", ""))
    return ".".join([*labels, zone])


@dataclass(frozen=True, slots=True)
class DnsblConfig:
    """Checker limits; zones come from ``zones.build_zones``."""

    concurrency: int = 8
    per_zone_rate: float = 5.0  # queries per second per zone
    burst: float = 5.0
    deadline: float = 30.0  # seconds for a whole check
    min_ttl: int = 60
    max_ttl: int = 86_400
    negative_ttl: int = 900  # NXDOMAIN without an SOA in the answer
    max_entries: int = 50_000
    health_interval: float = 3600.0


@dataclass(frozen=True, slots=True)
class ZoneHealth:
    zone: str
    state: HealthState
    reason: str = ""
    checked_at: float | None = None
    lookups: int = 0  # this run's lookups of the zone (test addresses included)
    failures: int = 0  # of which failed: timeout, SERVFAIL, no answer by the deadline


@dataclass(frozen=True, slots=True)
class ListingResult:
    """One (ip, zone). ``listed`` only for a real listing; ``refused``/``error`` mean "we do
    not know" (never a delisting); ``skipped`` names why the zone was not asked."""

    ip: str
    zone: str
    listed: bool = False
    codes: tuple[str, ...] = ()
    meanings: tuple[str, ...] = ()
    severity: AlertSeverity | None = None
    acts: bool = False
    refused: bool = False
    error: str | None = None
    skipped: str | None = None
    checked_at: float = 0.0
    expires_at: float = 0.0

    @property
    def known(self) -> bool:
        """True when the answer is trustworthy either way (listed or not listed)."""
        return not (self.refused or self.error or self.skipped)


@dataclass(frozen=True, slots=True)
class CheckReport:
    checked_at: float
    results: tuple[ListingResult, ...]
    health: tuple[ZoneHealth, ...]
    warnings: tuple[str, ...] = ()
    timed_out: bool = False

    def listed(self) -> list[ListingResult]:
        return [r for r in self.results if r.listed]


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``acquire`` sleeps until one is free."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate, self.burst, self._clock, self._sleep = rate, max(1.0, burst), clock, sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                t = self._clock()
                self._tokens = min(self.burst, self._tokens + (t - self._last) * self.rate)
                self._last = t
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await self._sleep((1.0 - self._tokens) / self.rate)


def _classify(
    zone: Zone, ip: str, res: LookupResult, now: float, cfg: DnsblConfig
) -> ListingResult:
    """A lookup -> a result; pure (no I/O), so the meaning of answers is tested alone."""
    if res.status == "error":
        return ListingResult(ip, zone.name, error=res.error or "error", checked_at=now)
    if res.status in ("nxdomain", "nodata"):
        ttl = res.ttl if res.ttl is not None else cfg.negative_ttl
        ttl = max(cfg.min_ttl, min(cfg.max_ttl, ttl))
        return ListingResult(ip, zone.name, checked_at=now, expires_at=now + ttl)
    refused = [a for a in res.addresses if ipaddress.ip_address(a) in REFUSED_NET]
    if refused:
        reason = REFUSED_MEANING.get(refused[0], "lookup refused")
        return ListingResult(
            ip,
            zone.name,
            refused=True,
            codes=tuple(refused),
            error=f"lookup refused ({refused[0]}: {reason})",
            checked_at=now,
        )
    codes = tuple(res.addresses)
    meanings = tuple(zone.meaning(c) for c in codes)
    worst = max(meanings, key=lambda m: SEVERITY_RANK[m.severity])
    acting = [m for m in meanings if m.acts]
    ttl = max(cfg.min_ttl, min(cfg.max_ttl, res.ttl if res.ttl is not None else cfg.min_ttl))
    return ListingResult(
        ip, zone.name, listed=True, codes=codes, meanings=tuple(m.meaning for m in meanings),
        severity=max(acting, key=lambda m: SEVERITY_RANK[m.severity]).severity
        if acting else worst.severity,
        acts=bool(acting), checked_at=now, expires_at=now + ttl,
    )  # fmt: skip


@dataclass
class _ZoneState:
    zone: Zone
    bucket: TokenBucket
    health: ZoneHealth = field(default_factory=lambda: ZoneHealth("", "unknown"))


class DnsblChecker:
    """Checks IPs against zones; keep one instance for the engine's lifetime (it holds the
    cache, the health states and the rate limiters)."""

    def __init__(
        self,
        resolver: ALookup,
        zones: Sequence[Zone],
        config: DnsblConfig,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._resolver = resolver
        self._cfg = config
        self._sem = asyncio.Semaphore(max(1, config.concurrency))
        self._zones = [
            _ZoneState(z, TokenBucket(config.per_zone_rate, config.burst, clock, sleep),
                       ZoneHealth(z.name, "unknown"))
            for z in zones
        ]  # fmt: skip
        self._cache: OrderedDict[tuple[str, str], ListingResult] = OrderedDict()
        self._probe_failures: dict[str, int] = {}  # zone -> failed test lookups, last probe

    def health(self) -> tuple[ZoneHealth, ...]:
        return tuple(s.health for s in self._zones)

    async def _lookup(self, state: _ZoneState, name: str) -> LookupResult:
        await state.bucket.acquire()
        async with self._sem:
            return await self._resolver.lookup_a(name)

    async def _probe(self, state: _ZoneState, now: float) -> None:
        zone = state.zone
        yes, no = await asyncio.gather(
            self._lookup(state, query_name("127.0.0.2", zone.queried)),
            self._lookup(state, query_name("127.0.0.1", zone.queried)),
        )
        ok_yes = _classify(zone, "127.0.0.2", yes, now, self._cfg)
        ok_no = _classify(zone, "127.0.0.1", no, now, self._cfg)
        self._probe_failures[zone.name] = sum(
            1 for r in (ok_yes, ok_no) if r.error and not r.refused
        )
        if ok_yes.refused or ok_no.refused:
            code = (ok_yes.codes or ok_no.codes)[0]
            h = ZoneHealth(zone.name, "refused",
                           f"lookup refused ({code}: {REFUSED_MEANING.get(code, 'refused')}); "
                           f"{DQS_ADVICE}", now)  # fmt: skip
        elif ok_yes.error or ok_no.error:
            why = f"test lookup failed: {ok_yes.error or ok_no.error}"
            h = ZoneHealth(zone.name, "error", why, now)
        elif ok_no.listed:
            h = ZoneHealth(zone.name, "dead", "lists the world (answers for 127.0.0.1)", now)
        elif not ok_yes.listed:
            h = ZoneHealth(zone.name, "dead", "answers nothing for test address 127.0.0.2", now)
        else:
            h = ZoneHealth(zone.name, "ok", "", now)
        state.health = h

    def _due(self, state: _ZoneState, now: float) -> bool:
        h = state.health
        if h.state in ("unknown", "error", "refused") or h.checked_at is None:
            return True  # never probed, or failed or refused (transient): probe again now
        return now - h.checked_at >= self._cfg.health_interval

    def _cached(self, ip: str, zone: str, now: float) -> ListingResult | None:
        hit = self._cache.get((ip, zone))
        if hit is None or hit.expires_at <= now:
            return None
        self._cache.move_to_end((ip, zone))
        return hit

    def _store(self, result: ListingResult) -> None:
        if not result.known:
            return
        key = (result.ip, result.zone)
        self._cache[key] = result
        self._cache.move_to_end(key)
        while len(self._cache) > self._cfg.max_entries:
            self._cache.popitem(last=False)

    async def _one(self, state: _ZoneState, ip: str, now: float) -> ListingResult:
        hit = self._cached(ip, state.zone.name, now)
        if hit is not None:
            return hit
        try:
            name = query_name(ip, state.zone.queried)
        except ValueError:
            return ListingResult(ip, state.zone.name, error="not an IP address", checked_at=now)
        result = _classify(state.zone, ip, await self._lookup(state, name), now, self._cfg)
        if result.refused:
            state.health = ZoneHealth(state.zone.name, "refused",
                                      f"{result.error}; {DQS_ADVICE}", now)  # fmt: skip
        self._store(result)
        return result

    async def check(self, ips: Iterable[str], now: float) -> CheckReport:
        """Every (ip, zone) in a result; never raises for DNS trouble, returns by
        ``deadline`` (unfinished lookups become ``error="deadline"``)."""
        wanted = list(dict.fromkeys(ip.strip() for ip in ips if ip.strip()))
        timed_out = False
        results: dict[tuple[str, str], ListingResult] = {}

        probed: set[str] = set()

        async def run() -> None:
            due = [s for s in self._zones if self._due(s, now)]
            probed.update(s.zone.name for s in due)
            await asyncio.gather(*(self._probe(s, now) for s in due))
            usable = [s for s in self._zones if s.health.state == "ok"]

            async def one(s: _ZoneState, ip: str) -> None:
                results[(ip, s.zone.name)] = await self._one(s, ip, now)

            await asyncio.gather(*(one(s, ip) for s in usable for ip in wanted))

        try:
            async with asyncio.timeout(self._cfg.deadline):
                await run()
        except TimeoutError:
            timed_out = True
        out: list[ListingResult] = []
        for s in self._zones:
            for ip in wanted:
                r = results.get((ip, s.zone.name))
                if r is None:
                    if s.health.state == "ok" or (timed_out and s.health.state == "unknown"):
                        r = ListingResult(ip, s.zone.name, error="deadline", checked_at=now)
                    else:
                        r = ListingResult(ip, s.zone.name, skipped=f"zone {s.health.state}: "
                                          f"{s.health.reason}", checked_at=now)  # fmt: skip
                out.append(r)
        warnings = [f"{h.zone}: {h.reason}" for h in self.health() if h.state != "ok" and h.reason]
        if timed_out:
            warnings.append(f"DNSBL check stopped at its {self._cfg.deadline:g}s deadline")
        return CheckReport(now, tuple(out), self._counted(out, probed, now), tuple(warnings),
                           timed_out)  # fmt: skip

    def _counted(
        self, results: Sequence[ListingResult], probed: set[str], now: float
    ) -> tuple[ZoneHealth, ...]:
        """Each zone's health with this run's lookups and failed lookups (a probe is two
        lookups; refused answers are answers, not failures)."""
        out = []
        for s in self._zones:
            h, name = s.health, s.zone.name
            mine = [r for r in results if r.zone == name and not r.skipped]
            errors = [r.error for r in mine if r.error and not r.refused]
            lookups = len(mine) + (2 if name in probed else 0)
            failures = len(errors) + (self._probe_failures.get(name, 0) if name in probed else 0)
            reason = h.reason
            if h.state == "ok" and errors:
                reason = f"{failures} of {lookups} lookups failed ({errors[0]})"
            out.append(replace(h, reason=reason, lookups=lookups, failures=failures))
        return tuple(out)
