"""The provider part of a check: read (ip, provider) counters, suspensions and signature hits
through the store's ``provider_store`` (storage/providers.py), run core.provider_policy."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from opsconsole.core import provider_policy, provider_warmup
from opsconsole.core.alerts import WARMUP_OVER_QUOTA
from opsconsole.core.config import EngineConfig
from opsconsole.core.policy import Observation
from opsconsole.core.ports import EngineState
from opsconsole.core.provider_policy import ProviderDecision, ProvidersConfig, Suspension
from opsconsole.core.providers import ProviderTable
from opsconsole.core.signatures import SignatureSet, signatures_from_config
from opsconsole.core.stats import WindowStats
from opsconsole.core.warmup import day_window_start
from opsconsole.core.windows import minute_floor


class ProviderReads(Protocol):
    async def ip_stats(self, lo: int, hi: int) -> dict[tuple[str, str], WindowStats]: ...

    async def key_stats(
        self, lo: int, hi: int, ip: str | None = None
    ) -> dict[tuple[str, str, str], WindowStats]: ...

    async def suspensions(self) -> dict[tuple[str, str], Suspension]: ...

    async def signature_hits(self, lo: int, hi: int) -> dict[tuple[str, str, str], int]: ...


@runtime_checkable
class HasProviderStore(Protocol):
    provider_store: Any


def reads_of(store: object) -> ProviderReads | None:
    """The store's provider reads, when it has them (SqlStore does)."""
    if isinstance(store, HasProviderStore):
        reads: ProviderReads = store.provider_store
        return reads
    return None


_TABLES: dict[int, tuple[ProvidersConfig, ProviderTable, SignatureSet]] = {}


def tools(cfg: ProvidersConfig) -> tuple[ProviderTable, SignatureSet]:
    """The provider table and signature set of a config, built once per config object."""
    hit = _TABLES.get(id(cfg))
    if hit is None or hit[0] is not cfg:
        table = ProviderTable(cfg.extra_domains, cfg.extra_mx)
        sigs = SignatureSet(signatures_from_config(cfg.signatures))
        hit = _TABLES[id(cfg)] = (cfg, table, sigs)
    return hit[1], hit[2]


async def decide(
    store: object, config: EngineConfig, state: EngineState, now: float, lo: int, hi: int
) -> ProviderDecision:
    pcfg = config.providers
    reads = reads_of(store)
    if reads is None or not pcfg.enabled:
        return ProviderDecision()
    table, sigs = tools(pcfg)
    stats = await reads.ip_stats(lo, hi)
    suspensions = await reads.suspensions()
    hits = await reads.signature_hits(minute_floor(now - pcfg.signature_window), hi)

    def meaning_of(sig_id: str) -> tuple[str, str]:
        sig = sigs.by_id(sig_id)
        return (sig.kind, sig.meaning) if sig is not None else ("block", "")

    decision = provider_policy.evaluate(
        stats, suspensions, hits, state.open_alerts.values(), config.monitor.thresholds,
        pcfg, now, config.monitor.window, domains_of=table.domains_of, meaning_of=meaning_of,
    )  # fmt: skip
    quota_obs = await provider_quotas(reads, config, state, hi)
    if quota_obs:
        decision = replace(decision, observations=(*decision.observations, *quota_obs))
    return decision


async def provider_quotas(
    reads: ProviderReads, config: EngineConfig, state: EngineState, hi: int
) -> list[Observation]:
    """Per-provider warmup quotas (core/provider_warmup.py) of schedules that set them."""
    per = {n: s.per_provider for n, s in config.warmup.schedules.items() if s.per_provider}
    open_quota = [a for a in state.open_alerts.values() if a.rule == WARMUP_OVER_QUOTA]
    if not per and not open_quota:
        return []
    sent: dict[tuple[str, str], int] = {}
    for plan in state.plans:
        if plan.schedule not in per:
            continue
        lo = minute_floor(day_window_start(plan))
        for (ip, _su, prov), st in (await reads.key_stats(lo, hi, plan.ip)).items():
            sent[(ip, prov)] = sent.get((ip, prov), 0) + st.sent
    return provider_warmup.observations(state.plans, sent, per, open_quota)
