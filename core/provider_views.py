"""The provider rows every view shows (report ``providers``, ``check IP``, TUI, metrics)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsconsole.core.config import EngineConfig
from opsconsole.core.engine.provider_check import reads_of
from opsconsole.core.stats import WindowStats, summed


def provider_rows(
    stats: Mapping[tuple[str, str, str], WindowStats],
    suspensions: Mapping[tuple[str, str], Any],
    config: EngineConfig,
    now: float,
) -> list[dict[str, Any]]:
    """One row per (ip, subuser, provider); unattributed (ip '') and unknown provider ('')
    counts are left out. Sorted by ip, subuser, provider."""
    from opsconsole.core.views import counts, iso

    base = config.monitor.thresholds
    pcfg = config.providers
    rows = []
    for (ip, su, prov), st in sorted(stats.items()):
        if not ip or not prov:
            continue
        sus = suspensions.get((ip, prov))
        until = sus.until if sus is not None and now < sus.until else None
        rows.append(
            {"ip": ip, "subuser": su or None, "provider": prov}
            | counts(st, pcfg.thresholds(prov, base))
            | {"suspended_until": iso(until)}
        )
    return rows


async def providers_section(
    store: object,
    config: EngineConfig,
    lo: int,
    hi: int,
    now: float,
    ip: str | None = None,
    keyed: Mapping[tuple[str, str, str], WindowStats] | None = None,
) -> list[dict[str, Any]]:
    """The providers section; ``keyed``: the window's (ip, subuser, provider) counters
    when the caller has read them already."""
    reads = reads_of(store)
    if reads is None:
        return []
    if keyed is None:
        keyed = await reads.key_stats(lo, hi, ip)
    return provider_rows(keyed, await reads.suspensions(), config, now)


async def keyed_window(
    store: object, lo: int, hi: int
) -> tuple[dict[tuple[str, str, str], WindowStats], dict[tuple[str, str], WindowStats]] | None:
    """The window's counters per (ip, subuser, provider) and, summed from them, per (ip,
    subuser): one pass over the window's buckets for both (a time-first bucket key makes
    each pass a sort of the window's rows); None for a store without provider reads."""
    reads = reads_of(store)
    if reads is None:
        return None
    keyed = await reads.key_stats(lo, hi)
    return keyed, summed(keyed, lambda k: (k[0], k[1]))


_RANK = {"insufficient": 0, "ok": 1, "warning": 2, "critical": 3, "block": 4}


def worst_provider(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Per IP, ``provider severity`` of its worst provider (ties: the most sent)."""
    best: dict[str, tuple[int, int, str]] = {}
    for r in rows:
        if r["provider"] == "other":
            continue
        cand = (_RANK.get(r["severity"], 0), r["sent"], r["provider"])
        if r["ip"] not in best or cand > best[r["ip"]]:
            best[r["ip"]] = cand
    labels = {v: k for k, v in _RANK.items()}
    return {ip: f"{p} {labels[s]}" for ip, (s, _n, p) in best.items()}
