"""Warmup quotas per mailbox provider, where a schedule says so (spec 11.4).

Providers throttle new IPs separately: Microsoft may take 500 a day from a fresh IP while
Gmail takes 5,000. A schedule's ``per_provider = { microsoft = [500, 1000, ...] }`` gives that
provider its own daily quota per stage (the last value holds for later stages). Each warming
or held plan on such a schedule gets a provider-scoped ``warmup_over_quota`` observation per
listed provider, judged on that provider's sent count since the plan's day started: a
``warning`` breach over the quota, ``ok`` otherwise (so an alert resolves on the next day).

Pure: plans, per-(ip, provider) sent counts and schedules in; observations out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opsconsole.core.alerts import WARMUP_OVER_QUOTA, AlertState
from opsconsole.core.policy import Observation
from opsconsole.core.stats import Severity
from opsconsole.core.warmup import ACTIVE_STATES, PlanState, stage_label


def provider_quota(per_provider: Mapping[str, tuple[int, ...]], provider: str, stage: int) -> int:
    quotas = per_provider[provider]
    return quotas[min(stage, len(quotas) - 1)]


def observations(
    plans: Iterable[PlanState],
    sent_today: Mapping[tuple[str, str], int],
    per_provider_of: Mapping[str, Mapping[str, tuple[int, ...]]],
    open_alerts: Iterable[AlertState] = (),
) -> list[Observation]:
    """``sent_today``: (ip, provider) -> sent since that IP's plan day started;
    ``per_provider_of``: schedule name -> its ``per_provider`` quotas."""
    out: list[Observation] = []
    seen: set[tuple[str, str]] = set()
    for plan in plans:
        quotas = per_provider_of.get(plan.schedule) or {}
        if plan.state not in ACTIVE_STATES:
            continue
        for prov in sorted(quotas):
            quota = provider_quota(quotas, prov, plan.stage)
            sent = sent_today.get((plan.ip, prov), 0)
            over = sent > quota
            ctx = {"provider": prov, "quota": quota, "stage": stage_label(plan)}
            out.append(
                Observation(
                    WARMUP_OVER_QUOTA, plan.ip, "", Severity.WARNING if over else Severity.OK,
                    sent / quota if quota else None, sent, ctx, prov,
                )
            )  # fmt: skip
            seen.add((plan.ip, prov))
    # An open provider over-quota alert whose plan moved on (completed, paused, gone) resolves.
    for a in open_alerts:
        key = (a.ip, a.provider)
        if a.rule == WARMUP_OVER_QUOTA and a.provider and a.is_open and key not in seen:
            out.append(
                Observation(
                    WARMUP_OVER_QUOTA, a.ip, "", Severity.OK, None, 0,
                    {"provider": a.provider}, a.provider,
                )
            )  # fmt: skip
            seen.add(key)
    return out
