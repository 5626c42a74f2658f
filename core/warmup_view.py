"""How a stored warmup plan reads in reports and panels (no policy here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

DAY = 86400.0


def current_quota(plan: Mapping[str, Any]) -> int:
    quotas = plan["daily_quotas"]
    if not quotas:
        return 0
    return int(quotas[min(plan["stage"], len(quotas) - 1)])


def next_change_at(plan: Mapping[str, Any]) -> float | None:
    """The next day boundary of a plan that moves by itself; None while paused or done."""
    if plan["state"] in ("paused", "completed"):
        return None
    return float(plan["day_started_at"]) + DAY


def plan_view(
    plan: Mapping[str, Any], sent_today: int, iso: Callable[[float | None], str | None]
) -> dict[str, Any]:
    return {
        "ip": plan["ip"],
        "pool": plan["pool"],
        "schedule": plan["schedule"],
        "stage": plan["stage"] + 1,
        "stages_total": len(plan["daily_quotas"]),
        "day": plan["day"] + 1,
        "stage_days": plan["stage_days"],
        "daily_quota": current_quota(plan),
        "sent_today": sent_today,
        "state": plan["state"],
        "state_reason": plan["state_reason"],
        "next_change_at": iso(next_change_at(plan)),
    }
