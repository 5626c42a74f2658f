"""Judging and acting per (ip, mailbox provider): spec 11.

The IP-wide policy (core/policy.py) keeps acting on an IP's totals. This adds, for every named
provider an IP sends to (not ``other``, not the unknown ``''``), the same severity rules on the
(ip, provider) counters with that provider's thresholds (``[providers.policy.NAME]`` over the
global ones), and block-signature counts:

* ``block`` at a provider -> ``suspend_provider`` (until ``now + reenable_after``) unless a
  suspension is already in force; at expiry -> ``resume_provider``. The IP keeps its pool
  state: an IP at 40% at microsoft and 1% elsewhere stays ``active`` and stops at microsoft.
* every reading -> an observation keyed (rule, ip, '', provider) for ``alerts.observe``.
* ``signature_threshold`` matches of one signature within ``signature_window`` -> an immediate
  provider-scoped ``block_signature`` alert (critical for a block, warning for a throttle),
  whatever the rates say. Alert only: the rates decide suspensions.

Pure: counters, suspensions and open alerts in; observations, actions and suspension changes
out. Time is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from opsconsole.core.actions import Action
from opsconsole.core.alerts import (
    BOUNCE_RATE,
    COMPLAINT_RATE,
    SIGNATURE,
    WARMUP_OVER_QUOTA,
    AlertState,
)
from opsconsole.core.durations import format_duration
from opsconsole.core.policy import Observation
from opsconsole.core.providers import OTHER, ProviderPolicy
from opsconsole.core.stats import (
    Severity,
    Thresholds,
    WindowStats,
    bounce_severity,
    complaint_severity,
    severity,
)

SUSPEND = "suspend_provider"
RESUME = "resume_provider"

ProvKey = tuple[str, str]  # (ip, provider)
HitKey = tuple[str, str, str]  # (ip, provider, signature id)


@dataclass(frozen=True, slots=True)
class ProvidersConfig:
    """``[providers]`` as the engine needs it (built in opsconsole/wiring.py)."""

    enabled: bool = True
    policies: Mapping[str, ProviderPolicy] = field(default_factory=dict)
    reenable_after: float = 6 * 3600.0
    signature_threshold: int = 5
    signature_window: float = 600.0
    extra_domains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra_mx: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    signatures: tuple[Mapping[str, str], ...] = ()  # operator rows, signatures_from_config
    mx_rollup: bool = False
    metrics_top: int = 8  # providers named in the metrics label; the rest are ``other``
    mx_nameservers: tuple[str, ...] | None = None  # None: the system resolvers
    mx_cache_ttl: float = 86_400.0
    mx_error_ttl: float = 300.0
    mx_timeout: float = 3.0

    def thresholds(self, provider: str, base: Thresholds) -> Thresholds:
        pol = self.policies.get(provider)
        return pol.apply(base) if pol is not None else base


@dataclass(frozen=True, slots=True)
class Suspension:
    ip: str
    provider: str
    until: float
    reason: str = ""
    alert_key: str = ""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ProviderDecision:
    observations: tuple[Observation, ...] = ()
    actions: tuple[Action, ...] = ()
    suspend: tuple[Suspension, ...] = ()
    resume: tuple[ProvKey, ...] = ()
    severities: Mapping[ProvKey, Severity] = field(default_factory=dict)


def judged(provider: str) -> bool:
    """Only named providers are judged; ``other`` is many unrelated domains."""
    return bool(provider) and provider != OTHER


def evaluate(
    stats: Mapping[ProvKey, WindowStats],
    suspensions: Mapping[ProvKey, Suspension],
    hits: Mapping[HitKey, int],
    open_alerts: Iterable[AlertState],
    base: Thresholds,
    config: ProvidersConfig,
    now: float,
    window: float,
    *,
    domains_of: Callable[[str], list[str]] = lambda _p: [],
    meaning_of: Callable[[str], tuple[str, str]] = lambda _s: ("block", ""),
) -> ProviderDecision:
    """One check of every (ip, provider). ``hits``: signature matches in the signature window;
    ``meaning_of(sig_id)`` -> (kind, meaning)."""
    if not config.enabled:
        return ProviderDecision()
    w = format_duration(window)
    obs: list[Observation] = []
    actions: list[Action] = []
    suspend: list[Suspension] = []
    resume: list[ProvKey] = []
    sevs: dict[ProvKey, Severity] = {}
    seen: set[str] = set()

    for (ip, prov), sus in sorted(suspensions.items()):
        if now >= sus.until:
            st_now = stats.get((ip, prov))
            thresholds = config.thresholds(prov, base)
            if (
                st_now is not None
                and judged(prov)
                and severity(st_now, thresholds) == Severity.BLOCK
            ):
                continue  # still blocked at expiry: suspended again below (extended)
            resume.append((ip, prov))
            actions.append(
                Action(
                    RESUME, ip, reason=f"suspension at {prov} expired", provider=prov,
                    domains=tuple(domains_of(prov)),
                    numbers={"provider": prov, "suspended_until": sus.until},
                )
            )  # fmt: skip

    # The IP as a whole (every provider, `other` and unknown included): a provider reading no
    # worse than the IP's own is the IP-wide policy's to act on (an IP at 20% everywhere is
    # removed, not suspended at each provider), so it neither suspends nor alerts there.
    totals: dict[str, WindowStats] = {}
    for (ip, _prov), st in stats.items():
        totals[ip] = totals[ip] + st if ip in totals else st

    for (ip, prov), st in sorted(stats.items()):
        if not ip or not judged(prov):
            continue
        t = config.thresholds(prov, base)
        sev = severity(st, t)
        sevs[(ip, prov)] = sev
        whole = totals[ip]
        active = suspensions.get((ip, prov))
        in_force = active is not None and now < active.until
        until: float | None = active.until if in_force and active else None
        covered = Severity.OK < sev <= severity(whole, base)
        if sev == Severity.BLOCK and not in_force and not covered:
            until = now + config.reenable_after
            reason = f"bounce {st.bounce_rate or 0:.2%} of {st.sent} sent at {prov} in {w}"
            if complaint_severity(st, t) > bounce_severity(st, t):
                reason = f"complaints {st.complaint_rate or 0:.2%} at {prov} in {w}"
            if active is not None:
                reason += " (extended: still blocked at expiry)"
            key = f"{BOUNCE_RATE}|{ip}||{prov}"
            suspend.append(Suspension(ip, prov, until, reason, key, now))
            actions.append(
                Action(
                    SUSPEND, ip, reason=reason, provider=prov, domains=tuple(domains_of(prov)),
                    numbers={
                        "provider": prov, "sent": st.sent, "bounced": st.bounced,
                        "bounce_rate": st.bounce_rate, "complaint_rate": st.complaint_rate,
                        "severity": sev.label, "suspended_until": until, "window_seconds": window,
                    },
                )
            )  # fmt: skip
        for rule, fn, value in (
            (BOUNCE_RATE, bounce_severity, st.bounce_rate),
            (COMPLAINT_RATE, complaint_severity, st.complaint_rate),
        ):
            ctx: dict[str, object] = {"window": w, "provider": prov}
            if until is not None:
                ctx["suspended_until"] = format_duration(max(0.0, until - now)) + " from now"
            breach = fn(st, t)
            if Severity.OK < breach <= fn(whole, base):
                breach = Severity.OK  # the IP-wide alert says it
            obs.append(Observation(rule, ip, "", breach, value, st.sent, ctx, prov))
            seen.add(f"{rule}|{ip}||{prov}")

    sw = format_duration(config.signature_window)
    for (ip, prov, sig), n in sorted(hits.items()):
        if not ip or not judged(prov):
            continue
        kind, meaning = meaning_of(sig)
        ip_total = totals.get(ip)
        if ip_total is not None and severity(ip_total, base) == Severity.BLOCK:
            breach = Severity.OK  # blocked as a whole: the IP-wide alert and action say it
        elif n >= config.signature_threshold:
            breach = Severity.BLOCK if kind in ("block", "blocklist") else Severity.CRITICAL
        else:
            breach = Severity.OK
        ctx = {"window": sw, "provider": prov, "signature": sig, "hits": n, "meaning": meaning}
        rule_key = f"{SIGNATURE}:{sig}"
        obs.append(Observation(rule_key, ip, "", breach, float(n), n, ctx, prov))
        seen.add(f"{rule_key}|{ip}||{prov}")

    # Open provider alerts with no reading this check: a quiet signature is healthy; a rate
    # with no traffic (suspended) is neutral.
    for a in open_alerts:
        if not a.provider or not a.is_open or a.key in seen or a.rule == WARMUP_OVER_QUOTA:
            continue  # warmup quotas: core/provider_warmup.py observes its own
        healthy = a.rule.startswith(SIGNATURE)
        obs.append(
            Observation(
                a.rule, a.ip, "", Severity.OK if healthy else Severity.INSUFFICIENT, None, 0,
                {"window": sw if healthy else w, "provider": a.provider}, a.provider,
            )
        )  # fmt: skip
    return ProviderDecision(tuple(obs), tuple(actions), tuple(suspend), tuple(resume), sevs)


def is_signature_rule(rule: str) -> bool:
    return rule == SIGNATURE or rule.startswith(SIGNATURE + ":")
