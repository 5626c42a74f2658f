"""Rules about the engine's own inputs and the IPs' standing that every view shares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opsconsole.core import alerts as alert_rules
from opsconsole.core.policy import Observation
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity
from opsconsole.core.warmup import PlanState


def stale_observations(
    sources: Iterable[Mapping[str, Any]], configured: set[str], now: float, stale_after: float
) -> list[Observation]:
    """A followed source with no event for ``stale_after`` raises ``source_stale``."""
    out = []
    for s in sources:
        if s["name"] not in configured:
            continue
        last = s["last_event_at"] or s["last_read_at"]
        if last is None:
            continue
        age = now - last
        breach = Severity.WARNING if age >= stale_after else Severity.OK
        ctx = {"source": s["name"], "age_seconds": round(age), "error": s["error"]}
        out.append(Observation(alert_rules.SOURCE_STALE, "", s["name"], breach, age, 0, ctx))
    return out


def ip_standing(
    members: Iterable[MemberState], plans: Iterable[PlanState]
) -> tuple[dict[str, str], dict[str, str]]:
    """(pool of each IP, status of each IP): a warmup in progress says the IP's status
    (warming, held, paused), else its first pool membership's state; 'unpooled' when none."""
    pool_of: dict[str, str] = {}
    status_of: dict[str, str] = {}
    for m in members:
        pool_of.setdefault(m.ip, m.pool)
        status_of.setdefault(m.ip, m.state)
    for p in plans:
        if p.state != "completed":
            status_of[p.ip] = p.state
        if p.pool:
            pool_of.setdefault(p.ip, p.pool)
    return pool_of, status_of


UNPOOLED = "unpooled"


HEALTHY, DEGRADED, UNHEALTHY = "HEALTHY", "DEGRADED", "UNHEALTHY"


def verdict(status: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The one health verdict of a ``core.views.status`` dict: (state, reasons), the
    reasons worst first, each a phrase an operator reads first in ``status``."""
    reasons: list[str] = []
    eng = status.get("engine") or {}
    if not eng.get("holder") or eng.get("role") == "none":
        reasons.append("no engine holds the lease")
    for n in status.get("notifiers") or []:
        if n.get("failed"):
            reasons.append(f"notifier {n['name']} failing ({n['failed']} failed)")
        elif n.get("retrying"):
            reasons.append(f"notifier {n['name']} retrying ({n['retrying']} retrying)")
    for s in status.get("sources") or []:
        if s.get("error"):
            reasons.append(f"source {s['name']}: {s['error']}")
        elif s.get("stale"):
            reasons.append(f"source {s['name']} stale (no event for {s['age_seconds']:.0f}s)")
    return (DEGRADED if reasons else HEALTHY), reasons
