"""Alert transitions (spec section 4): open, escalate, re-notify, acknowledge, resolve.

Pure functions of (alert, observation, config, now) -> (alert, transitions, notify).
``AlertState`` maps 1:1 onto the ``alert`` table and ``Transition`` onto ``alert_event``.

* Alert severity follows the action: a ``warning`` breach opens an ``info`` alert,
  ``critical`` a ``warning`` alert, ``block`` a ``critical`` alert. ``warmup_over_quota`` and
  ``source_stale`` are always ``warning`` alerts (pass ``Severity.WARNING`` as the breach).
* An open alert's severity only rises; a lower breach keeps it (and breaks the healthy streak).
* Notify on open, on escalation (even when acknowledged: the acknowledgement was for a lesser
  problem, so the alert goes back to ``firing``) and, for rate rules only, on a rise of at
  least ``renotify_delta`` over the last notified value unless acknowledged. Over-quota and
  stale-source alerts do not re-notify on rises (their values are not rates).
* ``silenced`` mutes notifications but not transitions; the muted transition gets a note. An
  alert first notified during a silence is notified at the first check after it ends (unless
  acknowledged meanwhile).
* Only an ``ok`` observation is healthy; ``insufficient`` is neutral (a removed IP sends
  nothing: that is not recovery). ``recover_checks`` consecutive healthy checks resolve it.
* Resolved is final: the next breach opens a new alert with a new id.
* ``title`` and ``message`` are those of the last notification (open, escalation, rise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from opsconsole.core.stats import Severity

AlertSeverity = Literal["info", "warning", "critical"]
AlertStatus = Literal["firing", "acknowledged", "resolved"]

BOUNCE_RATE = "bounce_rate"
COMPLAINT_RATE = "complaint_rate"
WARMUP_OVER_QUOTA = "warmup_over_quota"
SOURCE_STALE = "source_stale"
SIGNATURE = "block_signature"  # provider-scoped: a count of block responses in a window
RULES = (BOUNCE_RATE, COMPLAINT_RATE, WARMUP_OVER_QUOTA, SOURCE_STALE, SIGNATURE)
RATE_RULES = (BOUNCE_RATE, COMPLAINT_RATE)

SEVERITY_RANK: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2}
_BY_BREACH: Mapping[Severity, AlertSeverity] = {
    Severity.WARNING: "info",
    Severity.CRITICAL: "warning",
    Severity.BLOCK: "critical",
}
EPSILON = 1e-9  # 0.10 + 0.05 is 0.15000000000000002 in floats: a rise of exactly delta counts


def dedup_key(rule: str, ip: str, subuser: str, provider: str = "") -> str:
    """``rule|ip|subuser``, as stored in ``alert.key`` and ``silence.key``; a provider-scoped
    alert appends ``|provider`` (IP-wide keys are unchanged)."""
    if provider:
        return f"{rule}|{ip}|{subuser}|{provider}"
    return f"{rule}|{ip}|{subuser}"


def alert_severity(rule: str, breach: Severity) -> AlertSeverity | None:
    """The alert severity a breach opens, or None when the observation is no breach."""
    if breach < Severity.WARNING:
        return None
    if rule in RATE_RULES or rule.startswith(SIGNATURE):
        return _BY_BREACH[breach]
    return "warning"


@dataclass(frozen=True, slots=True)
class AlertState:
    id: str
    key: str
    rule: str
    ip: str
    subuser: str
    severity: AlertSeverity
    opened_at: float
    last_seen_at: float
    state: AlertStatus = "firing"
    title: str = ""
    message: str = ""
    value: float | None = None
    sent: int = 0
    notified_severity: AlertSeverity | None = None
    notified_value: float | None = None
    healthy_checks: int = 0
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    ack_note: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    resolve_note: str | None = None
    provider: str = ""  # '' for IP-wide alerts

    @property
    def is_open(self) -> bool:
        return self.state != "resolved"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of alert history (``alert_event``)."""

    alert_id: str
    at: float
    transition: str  # opened | escalated | rose | acknowledged | resolved
    actor: str = "engine"
    severity: str = ""
    value: float | None = None
    note: str = ""


# --- wording ---------------------------------------------------------------------------

# context["action"]: what the policy did to the IP because of this reading.
_ACTION_TITLE = {
    "remove": "IP Blocked",
    "deprioritize": "IP Deprioritized",
    "pause_warmup": "Warmup Paused",
    "hold_warmup": "Warmup Held",
}
_ACTION_VERB = {
    "remove": "removed from rotation",
    "deprioritize": "deprioritized in rotation",
    "pause_warmup": "warmup paused",
    "hold_warmup": "warmup held",
}
_LEVEL_TITLE = {"info": "Elevated", "warning": "High", "critical": "Very High"}
_RATE_NAME = {BOUNCE_RATE: "Bounce Rate", COMPLAINT_RATE: "Complaint Rate"}


def _who(ip: str, subuser: str) -> str:
    if subuser == "*":
        return f"IP {ip} (all subusers)"
    return f"IP {ip} (subuser: {subuser})" if subuser else f"IP {ip}"


def describe(
    rule: str,
    severity: AlertSeverity,
    ip: str,
    subuser: str,
    value: float | None,
    sent: int,
    context: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """(title, message) of a notification, as in the spec's webhook example:
    ("IP Blocked - High Bounce Rate",
     "IP 192.168.1.1 (subuser: primary) removed from rotation due to 18.00% bounce rate").

    ``context`` keys used: ``action`` (remove | deprioritize | pause_warmup | hold_warmup),
    ``window`` ("1h"), ``quota``/``stage`` (over-quota), ``source``/``age`` (stale source).
    """
    ctx = context or {}
    provider = ctx.get("provider")
    if provider:
        return _describe_provider(rule, severity, ip, subuser, provider, value, sent, ctx)
    if rule in RATE_RULES:
        name = _RATE_NAME[rule]
        rate = "n/a" if value is None else f"{value:.2%}"
        action = ctx.get("action")
        if action in _ACTION_TITLE:
            title = f"{_ACTION_TITLE[action]} - High {name}"
            msg = f"{_who(ip, subuser)} {_ACTION_VERB[action]} due to {rate} {name.lower()}"
        else:
            title = f"{_LEVEL_TITLE[severity]} {name}"
            basis = "sent" if rule == BOUNCE_RATE else "delivered"
            window = ctx.get("window")
            span = f" in {window}" if window else ""
            msg = f"{_who(ip, subuser)} at {rate} {name.lower()} ({sent} {basis}{span})"
        return title, msg
    if rule == WARMUP_OVER_QUOTA:
        quota = ctx.get("quota", "?")
        stage = ctx.get("stage")
        where = f" at {stage}" if stage else ""
        return (
            "Warmup Over Quota",
            f"{_who(ip, subuser)} sent {sent} today, over its warmup quota of {quota}/day{where}",
        )
    if rule == SOURCE_STALE:
        source = ctx.get("source") or subuser or ip
        age = ctx.get("age")
        since = f" for {age}" if age else ""
        return "Source Stale", f"Source {source} has read no new events{since}"
    title = rule.replace("_", " ").title()
    return title, f"{_who(ip, subuser)}: {rule} = {value}"


_PROVIDER_VERB = {"info": "elevated", "warning": "throttled", "critical": "blocked"}


def _describe_provider(
    rule: str,
    severity: AlertSeverity,
    ip: str,
    subuser: str,
    provider: str,
    value: float | None,
    sent: int,
    ctx: Mapping[str, Any],
) -> tuple[str, str]:
    """ "IP 203.0.113.4 blocked at microsoft: 42.00% of 300 sent"."""
    who = _who(ip, subuser) if subuser not in ("", "*") else f"IP {ip}"
    verb = _PROVIDER_VERB[severity]
    if rule.startswith(SIGNATURE):
        hits = ctx.get("hits", sent)
        sig = ctx.get("signature", "?")
        meaning = ctx.get("meaning")
        window = ctx.get("window")
        span = f" in {window}" if window else ""
        title = f"{who} {verb} at {provider}: {hits} {sig} responses{span}"
        msg = title + (f" ({meaning})" if meaning else "")
        return title, msg
    if rule == WARMUP_OVER_QUOTA:
        title = f"{who} over its {provider} warmup quota: {sent} sent today"
        stage = ctx.get("stage")
        return title, f"{title}, quota {ctx.get('quota', '?')}/day" + (
            f" at {stage}" if stage else ""
        )
    rate = "n/a" if value is None else f"{value:.2%}"
    basis = "sent" if rule != COMPLAINT_RATE else "delivered"
    title = f"{who} {verb} at {provider}: {rate} of {sent} {basis}"
    what = "complaint rate" if rule == COMPLAINT_RATE else "bounce rate"
    msg = f"{title} ({what})"
    until = ctx.get("suspended_until")
    if until:
        msg += f"; suspended at {provider} until {until}"
    return title, msg


# --- transitions -----------------------------------------------------------------------


def _rank(sev: str | None) -> int:
    return -1 if sev is None else SEVERITY_RANK[sev]


def observe(
    existing: AlertState | None,
    rule: str,
    ip: str,
    subuser: str,
    breach: Severity,
    value: float | None,
    sent: int,
    now: float,
    recover_checks: int,
    renotify_delta: float,
    silenced: bool,
    new_id: Callable[[], str],
    context: Mapping[str, Any] | None = None,
    provider: str = "",
) -> tuple[AlertState | None, list[Transition], bool]:
    """One check's reading of one key for one rule.

    ``existing`` is the key's latest alert (open or resolved) or None. Returns the alert to
    store (a new one when a breach follows a resolved alert; None when there is nothing to
    store), the transitions to append to history, and whether to notify now.
    """
    sev = alert_severity(rule, breach)
    muted = "notification muted by silence"

    if existing is None or existing.state == "resolved":
        if sev is None:
            return existing, [], False
        title, message = describe(rule, sev, ip, subuser, value, sent, context)
        alert = AlertState(
            id=new_id(),
            key=dedup_key(rule, ip, subuser, provider),
            rule=rule,
            ip=ip,
            subuser=subuser,
            severity=sev,
            opened_at=now,
            last_seen_at=now,
            title=title,
            message=message,
            value=value,
            sent=sent,
            notified_severity=None if silenced else sev,
            notified_value=None if silenced else value,
            provider=provider,
        )
        note = muted if silenced else ""
        return (
            alert,
            [Transition(alert.id, now, "opened", "engine", sev, value, note)],
            not silenced,
        )

    a = existing
    if sev is None:
        if breach != Severity.OK:
            return a, [], False  # insufficient: neutral
        checks = a.healthy_checks + 1
        if checks < recover_checks:
            return replace(a, healthy_checks=checks), [], False
        note = f"auto-resolved after {checks} healthy checks"
        a = replace(
            a,
            state="resolved",
            healthy_checks=checks,
            resolved_at=now,
            resolved_by="engine",
            resolve_note=note,
        )
        notify = a.notified_severity is not None and not silenced
        if a.notified_severity is not None and silenced:
            note = f"{note}; {muted}"
        return a, [Transition(a.id, now, "resolved", "engine", a.severity, value, note)], notify

    # A breach on an open alert.
    a = replace(a, value=value, sent=sent, last_seen_at=now, healthy_checks=0)
    transitions: list[Transition] = []
    escalated = _rank(sev) > _rank(a.severity)
    kind = ""
    if escalated:
        a = replace(a, severity=sev, state="firing")
        kind = "escalated"
    if silenced:
        notify = False
    elif escalated:
        notify = True
    elif a.state == "acknowledged":
        notify = False
    elif _rank(a.severity) > _rank(a.notified_severity):
        notify = True  # first notification after a silence
    else:
        notify = (
            rule in RATE_RULES
            and value is not None
            and a.notified_value is not None
            and value - a.notified_value >= renotify_delta - EPSILON
        )
        if notify:
            kind = "rose"
    if kind:
        note = muted if silenced else ""
        if kind == "rose":
            note = f"from {a.notified_value:.2%} to {value:.2%}"
        transitions.append(Transition(a.id, now, kind, "engine", a.severity, value, note))
    if notify:
        title, message = describe(rule, a.severity, ip, subuser, value, sent, context)
        a = replace(
            a,
            title=title,
            message=message,
            notified_severity=a.severity,
            notified_value=value,
        )
    return a, transitions, notify


def ack(
    alert: AlertState, by: str, note: str, now: float
) -> tuple[AlertState, list[Transition], bool]:
    """Acknowledge: stops re-notification, keeps the alert open. Never notifies."""
    if alert.state != "firing":
        raise ValueError(f"alert {alert.id} is {alert.state}, not firing")
    a = replace(
        alert, state="acknowledged", acknowledged_by=by, acknowledged_at=now, ack_note=note or None
    )
    return a, [Transition(a.id, now, "acknowledged", by, a.severity, a.value, note)], False


def resolve(
    alert: AlertState, by: str, note: str, now: float, *, silenced: bool = False
) -> tuple[AlertState, list[Transition], bool]:
    """An operator resolves an open alert; notifies where its firing notices went."""
    if alert.state == "resolved":
        raise ValueError(f"alert {alert.id} is already resolved")
    a = replace(alert, state="resolved", resolved_at=now, resolved_by=by, resolve_note=note or None)
    notify = a.notified_severity is not None and not silenced
    return a, [Transition(a.id, now, "resolved", by, a.severity, a.value, note)], notify


def is_silenced(until: float | None, now: float) -> bool:
    """Whether a ``silence`` row (its ``until``) still mutes its key."""
    return until is not None and now < until


__all__ = [
    "BOUNCE_RATE",
    "COMPLAINT_RATE",
    "RULES",
    "SIGNATURE",
    "SOURCE_STALE",
    "WARMUP_OVER_QUOTA",
    "AlertSeverity",
    "AlertState",
    "AlertStatus",
    "Transition",
    "ack",
    "alert_severity",
    "dedup_key",
    "describe",
    "is_silenced",
    "observe",
    "resolve",
]
