"""One engine check: window stats -> severities -> actions and alert observations (spec 4).

The glue of the pure core. :func:`evaluate` takes this check's counters, the current pool
members and warmup plans, and returns a :class:`Decision`: the new states (store what
changed; unchanged states are the same objects), the actions to audit and hand to hooks, and
the observations to feed ``alerts.observe`` one by one (with the key's latest alert and its
silence, which live in the database).

What acts on what
-----------------
* Policy acts per IP, on the IP's totals (sum over its subusers), with the worse of the bounce
  and complaint severities:

  ============  =====================  ================================
  severity      warming IP             production IP (pool member)
  ============  =====================  ================================
  warning       alert only             alert only
  critical      hold (``hold_warmup``)  ``deprioritize``
  block         ``pause_warmup``        ``remove``
  ============  =====================  ================================

  A *warming* IP has a plan that is not completed (warming, held or paused); its pool members
  are left to the plan. A *production* IP is a member of at least one pool (each membership is
  evaluated: an IP may sit in several pools). Other IPs only get alerts. The unattributed IP
  ``''`` is never acted on nor alerted.
* Alerts are per (ip, subuser) key, one rule each for bounce and complaint rate, from the
  key's own stats. An IP that has subusers also gets an IP-level observation under subuser
  ``"*"`` ("all subusers") which breaches only when its totals are *worse* than every one of
  its keys (subusers each too small to judge, together over a threshold): an action the key
  alerts would not explain always has an alert. Otherwise it reads ``ok``, so it resolves.
* A key's alert names the IP's action ("removed from rotation due to 18.00% bounce rate") when
  its own severity for the rule is the one the IP was acted on, and the IP is in that state.
* Warming IPs also get a ``warmup_over_quota`` observation: ``warning`` when today's sent
  exceeds the day's quota, ``ok`` otherwise (and once paused or completed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from opsconsole.core import rotation, warmup
from opsconsole.core.actions import Action, Numbers
from opsconsole.core.alerts import BOUNCE_RATE, COMPLAINT_RATE, WARMUP_OVER_QUOTA
from opsconsole.core.durations import format_duration
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import (
    Severity,
    Thresholds,
    WindowStats,
    bounce_severity,
    complaint_severity,
    severity,
    summed,
)
from opsconsole.core.warmup import PlanState

if TYPE_CHECKING:
    from opsconsole.core.config import MonitorConfig, WarmupConfig

Role = Literal["warming", "production", "unmanaged"]
ALL_SUBUSERS = "*"

_ACTION_FOR: Mapping[tuple[Role, Severity], str] = {
    ("warming", Severity.CRITICAL): "hold_warmup",
    ("warming", Severity.BLOCK): "pause_warmup",
    ("production", Severity.CRITICAL): "deprioritize",
    ("production", Severity.BLOCK): "remove",
}


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The configuration values a check needs."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    deprioritize_factor: float = 0.1
    recover_checks: int = 3
    window: float = 3600.0
    auto_resume_after: float | None = None

    @classmethod
    def from_config(
        cls, monitor: MonitorConfig, warmup_settings: WarmupConfig | None = None
    ) -> PolicyConfig:
        return cls(
            thresholds=monitor.thresholds,
            deprioritize_factor=monitor.deprioritize_factor,
            recover_checks=monitor.recover_checks,
            window=monitor.window,
            auto_resume_after=warmup_settings.auto_resume_after if warmup_settings else None,
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """One rule's reading of one key: the arguments of ``alerts.observe`` this check knows."""

    rule: str
    ip: str
    subuser: str
    breach: Severity
    value: float | None
    sent: int
    context: Mapping[str, Any] = field(default_factory=dict)
    provider: str = ""  # '' for IP-wide readings; a provider-scoped one names it


@dataclass(frozen=True, slots=True)
class Decision:
    actions: tuple[Action, ...]
    observations: tuple[Observation, ...]
    plans: tuple[PlanState, ...]  # every plan, in input order
    members: tuple[MemberState, ...]  # every member, in input order
    severities: Mapping[str, Severity]  # per IP, on its totals


def ip_totals(key_stats: Mapping[tuple[str, str], WindowStats]) -> dict[str, WindowStats]:
    """An IP's stats are the sum over its subusers."""
    return summed(key_stats, lambda k: k[0])


def reason_text(stats: WindowStats, t: Thresholds, window: float) -> str:
    """The why of an action, with the numbers: "bounce 12.00% of 250 sent in 1h"."""
    w = format_duration(window)
    if stats.sent < t.min_sample:
        return f"{stats.sent} sent in {w} (fewer than {t.min_sample} to judge)"
    b, c = bounce_severity(stats, t), complaint_severity(stats, t)
    parts = []
    if b >= c:
        parts.append(f"bounce {stats.bounce_rate or 0:.2%} of {stats.sent} sent in {w}")
    if c >= b and c >= Severity.WARNING:
        rate = stats.complaint_rate
        shown = "n/a" if rate is None else f"{rate:.2%}"
        parts.append(f"complaints {shown} of {stats.delivered} delivered in {w}")
    return "; ".join(parts)


def numbers_of(stats: WindowStats, t: Thresholds, window: float) -> dict[str, Any]:
    return {
        "severity": severity(stats, t).label,
        "sent": stats.sent,
        "delivered": stats.delivered,
        "bounced": stats.bounced,
        "hard_bounced": stats.hard_bounced,
        "soft_bounced": stats.soft_bounced,
        "complaints": stats.complaints,
        "bounce_rate": stats.bounce_rate,
        "complaint_rate": stats.complaint_rate,
        "window_seconds": window,
    }


def _in_action_state(action: str, plan: PlanState | None, members: Iterable[MemberState]) -> bool:
    if action == "hold_warmup":
        return plan is not None and plan.state == "held"
    if action == "pause_warmup":
        return plan is not None and plan.state == "paused"
    want = "deprioritized" if action == "deprioritize" else "removed"
    return any(m.state == want for m in members)


def _context(
    window: str, action: str | None, rule_sev: Severity, ip_sev: Severity
) -> dict[str, Any]:
    """Alert wording context: the IP's action only for the reading that caused it."""
    ctx: dict[str, Any] = {"window": window}
    if action is not None and rule_sev == ip_sev:
        ctx["action"] = action
    return ctx


def evaluate(
    key_stats: Mapping[tuple[str, str], WindowStats],
    members: Iterable[MemberState],
    plans: Iterable[PlanState],
    config: PolicyConfig,
    now: float,
    *,
    stage_stats: Mapping[str, WindowStats] | None = None,
    today_sent: Mapping[str, int] | None = None,
    ip_stats: Mapping[str, WindowStats] | None = None,
) -> Decision:
    """One check.

    ``key_stats``: the window's counters per (ip, subuser), subuser ``''`` when none.
    ``stage_stats``: per warming IP, counters since ``warmup.stage_window_start(plan)``.
    ``today_sent``: per warming IP, sent since ``warmup.day_window_start(plan)``.
    ``ip_stats``: per-IP totals when the caller has them (default: summed from key_stats).
    """
    t = config.thresholds
    window_label = format_duration(config.window)
    stage_stats = stage_stats or {}
    today_sent = today_sent or {}
    totals = dict(ip_stats) if ip_stats is not None else ip_totals(key_stats)
    member_list = list(members)
    plan_list = list(plans)
    plan_by_ip = {p.ip: p for p in plan_list}
    members_by_ip: dict[str, list[MemberState]] = {}
    for m in member_list:
        members_by_ip.setdefault(m.ip, []).append(m)

    ips = sorted(
        {ip for ip, _ in key_stats} | {m.ip for m in member_list} | set(plan_by_ip) | set(totals)
    )
    ips = [ip for ip in ips if ip]

    new_plans: dict[str, PlanState] = {}
    new_members: dict[tuple[str, str], MemberState] = {}
    actions: list[Action] = []
    observations: list[Observation] = []
    severities: dict[str, Severity] = {}
    role_of: dict[str, Role] = {}

    for ip in ips:
        stats = totals.get(ip, WindowStats())
        sev = severity(stats, t)
        severities[ip] = sev
        plan = plan_by_ip.get(ip)
        mine = members_by_ip.get(ip, [])
        # The reason and numbers are only read when something can happen to the IP: format
        # them then, not for each of thousands of healthy active IPs on every check.
        if sev >= Severity.WARNING or plan is not None or any(m.state != "active" for m in mine):
            reason = reason_text(stats, t, config.window)
            nums: Numbers = numbers_of(stats, t, config.window)
        else:
            reason, nums = "", {}

        if plan is not None and plan.state != "completed":
            role_of[ip] = "warming"
            new_plan, acts = warmup.tick(
                plan,
                stage_stats.get(ip, WindowStats()),
                sev,
                t,
                now,
                config.auto_resume_after,
                reason=reason,
                numbers=nums,
            )
            new_plans[ip] = new_plan
            actions.extend(acts)
            if new_plan.state == "completed":
                for m in mine:
                    new_members[(m.pool, m.ip)] = rotation.complete_warmup(m, now)
            sent_today = today_sent.get(ip, 0)
            quota = warmup.daily_quota(plan)
            over = warmup.over_quota(plan, sent_today)
            observations.append(
                Observation(
                    WARMUP_OVER_QUOTA,
                    ip,
                    "",
                    Severity.WARNING if over else Severity.OK,
                    sent_today / quota if quota else None,
                    sent_today,
                    {"quota": quota, "stage": warmup.stage_label(plan)},
                )
            )
        else:
            if plan is not None:  # completed: an over-quota alert left open resolves
                observations.append(
                    Observation(WARMUP_OVER_QUOTA, ip, "", Severity.OK, None, 0, {})
                )
            role_of[ip] = "production" if mine else "unmanaged"
            for m in mine:
                new_m, acts = rotation.evaluate_member(
                    m,
                    sev,
                    config.deprioritize_factor,
                    config.recover_checks,
                    now,
                    reason=reason,
                    numbers=nums,
                )
                new_members[(m.pool, m.ip)] = new_m
                actions.extend(acts)

    # Alert observations: per key, plus the IP-level "*" for IPs with subusers.
    keys_by_ip: dict[str, list[tuple[str, WindowStats]]] = {}
    for (ip, sub), st in sorted(key_stats.items()):
        if ip:
            keys_by_ip.setdefault(ip, []).append((sub, st))
    rules = (
        (BOUNCE_RATE, bounce_severity, lambda s: s.bounce_rate),
        (COMPLAINT_RATE, complaint_severity, lambda s: s.complaint_rate),
    )
    for ip, keys in keys_by_ip.items():
        sev = severities[ip]
        role = role_of[ip]
        plan_after = new_plans.get(ip, plan_by_ip.get(ip))
        members_after = [new_members.get((m.pool, m.ip), m) for m in members_by_ip.get(ip, ())]
        action = _ACTION_FOR.get((role, sev))
        acted = action if action and _in_action_state(action, plan_after, members_after) else None

        total = totals.get(ip, WindowStats())
        has_subusers = any(sub for sub, _ in keys)
        for rule, sev_fn, value_fn in rules:
            worst_key = Severity.INSUFFICIENT
            for sub, st in keys:
                ks = sev_fn(st, t)
                worst_key = max(worst_key, ks)
                observations.append(
                    Observation(
                        rule,
                        ip,
                        sub,
                        ks,
                        value_fn(st),
                        st.sent,
                        _context(window_label, acted, ks, sev),
                    )
                )
            if has_subusers:
                ip_sev = sev_fn(total, t)
                if ip_sev > worst_key:
                    breach = ip_sev
                elif ip_sev >= Severity.OK:
                    breach = Severity.OK
                else:
                    breach = Severity.INSUFFICIENT
                observations.append(
                    Observation(
                        rule,
                        ip,
                        ALL_SUBUSERS,
                        breach,
                        value_fn(total),
                        total.sent,
                        _context(window_label, acted, ip_sev, sev),
                    )
                )

    return Decision(
        actions=tuple(actions),
        observations=tuple(observations),
        plans=tuple(new_plans.get(p.ip, p) for p in plan_list),
        members=tuple(new_members.get((m.pool, m.ip), m) for m in member_list),
        severities=severities,
    )


__all__ = [
    "ALL_SUBUSERS",
    "Action",
    "Decision",
    "Observation",
    "PolicyConfig",
    "Role",
    "evaluate",
    "ip_totals",
    "numbers_of",
    "reason_text",
]
