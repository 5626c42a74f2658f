"""The provider part of a check: read (ip, provider) counters, suspensions and signature hits
through the store's ``provider_store`` (storage/providers.py), run core.provider_policy."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
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
from opsconsole.core.stats import Severity, WindowStats, severity, summed
from opsconsole.core.warmup import day_window_start
from opsconsole.core.windows import minute_floor

CHUNK = 2000  # IPs per read of the provider counters


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
    suspensions = await reads.suspensions()
    hits = await reads.signature_hits(minute_floor(now - pcfg.signature_window), hi)
    if hasattr(store, "provider_chunks"):  # any number of IPs (issue 18.9)
        stats = await judged_stats(store, config, state, suspensions, hits, lo, hi)
    else:
        stats = await reads.ip_stats(lo, hi)

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


async def judged_stats(
    store: Any,
    config: EngineConfig,
    state: EngineState,
    suspensions: Mapping[tuple[str, str], Suspension],
    hits: Mapping[tuple[str, str, str], int],
    lo: int,
    hi: int,
) -> dict[tuple[str, str], WindowStats]:
    """The (ip, provider) counters of the IPs the provider policy can say something about,
    read a chunk of IPs at a time: an IP with a provider at warning or worse, a suspension,
    signature hits or an open provider alert (all its providers, so that its totals are
    whole). Any other IP's readings are all below warning with nothing open: the policy
    would only observe them as fine, which the check skips. Memory follows the IPs in
    trouble, not the IPs in the window."""
    base, pcfg = config.monitor.thresholds, config.providers
    keep = {ip for ip, _p in suspensions} | {ip for ip, _p, _s in hits}
    keep |= {a.ip for a in state.open_alerts.values() if a.provider}
    out: dict[tuple[str, str], WindowStats] = {}
    chunks = store.provider_chunks(lo, hi, CHUNK, known_only=False)
    async with contextlib.aclosing(chunks):  # a cancelled check frees its cursor now
        async for chunk in chunks:
            per = summed(chunk, lambda k: (k[0], k[2]))  # per (ip, provider)
            bad = {
                ip
                for (ip, prov), st in per.items()
                if provider_policy.judged(prov)
                and severity(st, pcfg.thresholds(prov, base)) >= Severity.WARNING
            }
            out.update((k, st) for k, st in per.items() if k[0] in bad or k[0] in keep)
    return out


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
