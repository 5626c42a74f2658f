"""MX rollup: attribute an unknown recipient domain to a provider by where its mail goes.

Thousands of company domains are hosted by Google Workspace or Microsoft 365; their MX
hosts (``*.google.com``, ``*.protection.outlook.com``) say so. The ingest hot path must never
wait for DNS, so ``cached()`` only reads the cache and queues misses; a background task
calls ``refresh_pending()`` to resolve them. Answers are cached with their outcome, negatives
included (no MX, NXDOMAIN, unmapped hosts), and lookup failures for a shorter time so a
broken resolver is retried without being hammered. Cache and queue are bounded.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from opsconsole.core.dns import MxLookup


@dataclass(frozen=True, slots=True)
class MxRollupConfig:
    cache_ttl: float = 86_400.0  # a domain's provider, mapped or not
    error_ttl: float = 300.0  # after a DNS failure
    max_entries: int = 100_000
    max_pending: int = 10_000
    concurrency: int = 8


@dataclass(frozen=True, slots=True)
class _Entry:
    provider: str | None
    expires_at: float


def normalise_domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


class MxRollup:
    """Domain -> provider via MX hosts and ``mapper`` (MX hostname -> provider or None).
    ``clock`` gives the time cache entries expire against."""

    def __init__(
        self,
        resolver: MxLookup,
        mapper: Callable[[str], str | None],
        config: MxRollupConfig,
        clock: Callable[[], float],
    ) -> None:
        self._resolver = resolver
        self._mapper = mapper
        self._cfg = config
        self._clock = clock
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: dict[str, None] = {}  # insertion-ordered set
        self._inflight: dict[str, asyncio.Future[str | None]] = {}
        self.dropped = 0  # misses not queued because the queue was full

    def _fresh(self, domain: str) -> _Entry | None:
        entry = self._cache.get(domain)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._cache[domain]
            return None
        self._cache.move_to_end(domain)
        return entry

    def _store(self, domain: str, provider: str | None, ttl: float) -> None:
        self._cache[domain] = _Entry(provider, self._clock() + ttl)
        self._cache.move_to_end(domain)
        while len(self._cache) > self._cfg.max_entries:
            self._cache.popitem(last=False)

    def cached(self, domain: str) -> str | None:
        """The cached provider, or None (not known yet, or known to be none). A miss is
        queued for ``refresh_pending``; never awaits, never touches the network."""
        key = normalise_domain(domain)
        if not key:
            return None
        entry = self._fresh(key)
        if entry is not None:
            return entry.provider
        if key not in self._pending and key not in self._inflight:
            if len(self._pending) >= self._cfg.max_pending:
                self.dropped += 1
            else:
                self._pending[key] = None
        return None

    def pending(self) -> list[str]:
        return list(self._pending)

    async def _lookup(self, domain: str) -> str | None:
        result = await self._resolver.lookup_mx(domain)
        if result.status == "error":
            self._store(domain, None, self._cfg.error_ttl)
            return None
        provider: str | None = None
        for mx in result.mx:  # lowest preference first
            if mx.host in ("", "."):  # null MX (RFC 7505): the domain takes no mail
                continue
            provider = self._mapper(mx.host)
            if provider is not None:
                break
        self._store(domain, provider, self._cfg.cache_ttl)
        return provider

    async def resolve(self, domain: str) -> str | None:
        """The provider for ``domain`` (cached, negatives included); concurrent calls for
        one domain share one lookup."""
        key = normalise_domain(domain)
        if not key:
            return None
        entry = self._fresh(key)
        if entry is not None:
            return entry.provider
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            provider = await self._lookup(key)
            future.set_result(provider)
            return provider
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody logs it
            raise
        finally:
            del self._inflight[key]
            self._pending.pop(key, None)

    async def refresh_pending(self) -> int:
        """Resolve every queued domain (bounded concurrency); returns how many were done."""
        batch = list(self._pending)
        self._pending.clear()
        sem = asyncio.Semaphore(max(1, self._cfg.concurrency))

        async def one(domain: str) -> None:
            async with sem:
                await self.resolve(domain)

        await asyncio.gather(*(one(d) for d in batch))
        return len(batch)
