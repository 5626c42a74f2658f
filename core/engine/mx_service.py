"""MX rollup as an engine service: unknown recipient domains resolved between checks.

The readers' provider table (``provider_check.tools``) asks the rollup only about a domain it
would call ``other``; the rollup answers from its cache and queues a miss, so ingest never
waits on DNS. After each check this service resolves the queue in a background task (bounded
concurrency, cached with TTLs, negatives included) and, when a domain was mapped, makes the
table forget its cached ``other`` answers: events read after that count at the provider.
Earlier buckets keep ``other``. A failing resolver is logged and retried later; never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from opsconsole.core.dns import MxLookup
from opsconsole.core.engine.provider_check import tools
from opsconsole.core.provider_policy import ProvidersConfig
from opsconsole.core.providers_mx import MxRollup, MxRollupConfig

log = logging.getLogger(__name__)


class MxRollupService:
    """``task`` is the refresh in flight (tests await it); ``learned`` counts mapped domains."""

    def __init__(self, config: ProvidersConfig, resolver: MxLookup, clock: Callable[[], float]):
        self.table, _ = tools(config)
        self.rollup = MxRollup(
            resolver,
            self.table.provider_of_mx,
            MxRollupConfig(cache_ttl=config.mx_cache_ttl, error_ttl=config.mx_error_ttl),
            clock,
        )
        self.task: asyncio.Task[None] | None = None
        self.learned = 0
        self.failures = 0

    async def start(self) -> None:
        self.table.rollup = self.rollup.cached
        self.table.forget()

    async def after_check(self, now: float) -> None:
        if self.task is not None and not self.task.done():
            return  # the previous refresh is still resolving
        if not self.rollup.pending():
            return
        self.task = asyncio.create_task(self.refresh())

    async def refresh(self) -> None:
        domains = self.rollup.pending()
        try:
            await self.rollup.refresh_pending()
        except Exception as e:  # never fatal: the domains stay `other` until a later try
            self.failures += 1
            log.warning("mx rollup: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)
            return
        mapped = sum(1 for d in domains if self.rollup.cached(d) is not None)
        if mapped:
            self.learned += mapped
            self.table.forget()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.table.rollup == self.rollup.cached:
            self.table.rollup = None
            self.table.forget()
