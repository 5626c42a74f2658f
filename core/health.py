"""Rules about the engine's own inputs and the IPs' standing that every view shares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opsconsole.core import alerts as alert_rules
from opsconsole.core.policy import Observation
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity
from opsconsole.core.warmup import PlanState


def stale_observations(
    sources: Iterable[Mapping[str, Any]], configured: set[str], now: float, stale_after: float
) -> list[Observation]:
    """A followed source with no event for ``stale_after`` raises ``source_stale``, one per
    host reading it (the subject ``source@host``; a row of no host: ``source``)."""
    out = []
    for s in sources:
        if s["name"] not in configured:
            continue
        last = s["last_event_at"] or s["last_read_at"]
        if last is None:
            continue
        age = now - last
        breach = Severity.WARNING if age >= stale_after else Severity.OK
        host = s.get("host") or ""
        subject = f"{s['name']}@{host}" if host else s["name"]
        ctx = {"source": subject, "age_seconds": round(age), "error": s["error"]}
        out.append(Observation(alert_rules.SOURCE_STALE, "", subject, breach, age, 0, ctx))
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


# --- the health verdict (issue 13.5): what `status` exits with and `/ready` answers ------

HEALTHY = "healthy"
DEGRADED = "degraded"
UNHEALTHY = "unhealthy"
UNCONFIGURED = "unconfigured"
WARNING = "warning"  # worth a look, not a page: reported, exits 0 (a dead DNSBL zone)
_RANK = {HEALTHY: 0, UNCONFIGURED: 0, WARNING: 0, DEGRADED: 1, UNHEALTHY: 2}
# `opsconsole status` exit codes (the monitoring-plugin convention): 3 = cannot tell.
# 2 stays "usage error" for every command: anything not healthy is 1.
EXIT_CODES = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 1}
EXIT_UNREACHABLE = 3


@dataclass(frozen=True)
class HealthCheck:
    name: str  # database, engine, source:NAME, notifier:NAME, sources, notifiers, fleet
    state: str  # healthy, degraded, unhealthy, unconfigured
    reason: str  # a phrase an operator reads first, naming its subject

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "state": self.state, "reason": self.reason}


@dataclass(frozen=True)
class Verdict:
    state: str  # healthy, degraded or unhealthy
    reasons: tuple[str, ...]  # every check not healthy, worst first
    checks: tuple[HealthCheck, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]


def health_checks(
    status: Mapping[str, Any],
    configured_sources: Iterable[str] | None = None,
    *,
    heartbeat_ttl: float | None = None,
) -> list[HealthCheck]:
    """Each check of a ``core.views.status`` result (the database answered, or there would
    be none): the engine (a leader with a fresh heartbeat: none ever is degraded, a
    leader's lease that expired is unhealthy), each configured source the leader follows
    (fresh and readable; files once ingested by hand are not judged; None: every source
    listed), each notifier (delivering: nothing failed or retrying) and, with a fleet,
    each host's engine."""
    out = [HealthCheck("database", HEALTHY, f"database {status.get('database', '')} answered")]
    eng = status.get("engine") or {}
    age = eng.get("heartbeat_age_seconds")
    if not eng.get("holder"):
        out.append(HealthCheck("engine", DEGRADED, "no engine holds the lease"))
    elif not eng.get("running") or eng.get("role") == "none":
        why = f"the leader's lease expired ({eng['holder']}, heartbeat {age}s ago)"
        out.append(HealthCheck("engine", UNHEALTHY, why))
    elif heartbeat_ttl is not None and age is not None and age > heartbeat_ttl:
        out.append(HealthCheck("engine", DEGRADED, f"leader heartbeat {age}s ago"))
    else:
        why = f"leader {eng['holder']}, heartbeat {age}s ago"
        out.append(HealthCheck("engine", HEALTHY, why))
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for s in status.get("sources") or []:
        by_name.setdefault(s["name"], []).append(s)
    names = list(by_name) if configured_sources is None else list(configured_sources)
    if not names:
        out.append(HealthCheck("sources", UNCONFIGURED, "no [[sources]] configured"))
    judged: list[tuple[str, Mapping[str, Any] | None]] = []
    for name in names:
        rows = by_name.get(name, [])
        if not rows:
            judged.append((name, None))
        for s in rows:  # one check per host reading it, named by its host when several do
            host = s.get("host")
            judged.append((f"{name}@{host}" if len(rows) > 1 and host else name, s))
    for name, s in judged:
        key = f"source:{name}"
        if s is None:
            out.append(HealthCheck(key, DEGRADED, f"source {name} never read"))
        elif s.get("error"):
            out.append(HealthCheck(key, DEGRADED, f"source {name}: {s['error']}"))
        elif s.get("age_seconds") is None:
            out.append(HealthCheck(key, DEGRADED, f"source {name}: no event read yet"))
        elif s.get("stale"):
            why = f"source {name} stale (no event for {s['age_seconds']:.0f}s)"
            out.append(HealthCheck(key, DEGRADED, why))
        else:
            why = f"source {name}: last event {s['age_seconds']:.0f}s ago"
            out.append(HealthCheck(key, HEALTHY, why))
    notifiers = status.get("notifiers") or []
    if not notifiers:
        out.append(HealthCheck("notifiers", UNCONFIGURED, "no [[notify]] configured"))
    for n in notifiers:
        key = f"notifier:{n['name']}"
        if n.get("failed"):
            why = f"notifier {n['name']} failing ({n['failed']} failed)"
            out.append(HealthCheck(key, DEGRADED, why))
        elif n.get("retrying"):
            why = f"notifier {n['name']} retrying ({n['retrying']} retrying)"
            out.append(HealthCheck(key, DEGRADED, why))
        else:
            why = f"notifier {n['name']}: {n.get('pending', 0)} pending, none failing"
            out.append(HealthCheck(key, HEALTHY, why))
    out += reputation_checks(status.get("reputation") or [])
    hosts = status.get("hosts")
    if hosts:
        down = [h["host"] for h in hosts if not h.get("engine_running")]
        stale = [h["host"] for h in hosts if h.get("engine_running") and not h.get("fresh")]
        if down or stale:
            parts = ([f"engine stopped on {', '.join(down)}"] if down else []) + (
                [f"no fresh events from {', '.join(stale)}"] if stale else []
            )
            out.append(HealthCheck("fleet", DEGRADED, "; ".join(parts)))
        else:
            out.append(HealthCheck("fleet", HEALTHY, f"{len(hosts)} host(s) running and fresh"))
    return out


def reputation_checks(rows: Iterable[Mapping[str, Any]]) -> list[HealthCheck]:
    """The reputation job's health rows (``core.reputation.report.zone_status``). A zone
    the checks cannot use (refused: public resolver, no DQS key; its test lookups timing
    out or SERVFAIL) is degraded: its listings go unseen. A dead zone (lists the world, or
    nothing for its test address) is a warning (exit 0): it is skipped, which is right, and
    the fix is a config edit, not a page. Some failed lookups of a working zone: warning."""
    out = []
    for r in rows:
        zone, state, reason = r["zone"], r["state"], r["reason"] or ""
        failed = f" ({r['failures']} of {r['lookups']} lookups failed)" if r["failures"] else ""
        if zone == "snds":
            if state == "ok":
                why = f"SNDS: last import {r['checked_at']} ({reason})"
                out.append(HealthCheck("snds", HEALTHY, why))
            elif reason.startswith("unparsed rows"):  # imported; some rows of unknown shape
                out.append(HealthCheck("snds", WARNING, f"SNDS imported with {reason}"))
            else:
                last = r.get("last_ok_at") or "never"
                why = f"SNDS import failing: {reason} (last success {last})"
                out.append(HealthCheck("snds", DEGRADED, why))
            continue
        if zone == "reputation":  # the run itself (its deadline, an unexpected error)
            if state != "ok":
                out.append(HealthCheck("reputation", DEGRADED, f"reputation run: {reason}"))
            continue
        key = f"dnsbl:{zone}"
        if state == "ok":
            if r["failures"]:
                out.append(HealthCheck(key, WARNING, f"DNSBL {zone}: {reason}"))
            else:
                out.append(HealthCheck(key, HEALTHY, f"DNSBL {zone}: {r['lookups']} lookups"))
        elif state == "dead":
            out.append(HealthCheck(key, WARNING, f"DNSBL {zone} dead, skipped: {reason}"))
        elif state == "refused":
            out.append(HealthCheck(key, DEGRADED, f"DNSBL {zone} {reason}"))
        elif state == "unknown":
            out.append(HealthCheck(key, DEGRADED, f"DNSBL {zone} not checked yet"))
        else:
            out.append(HealthCheck(key, DEGRADED, f"DNSBL {zone} failing: {reason}{failed}"))
    return out


def evaluate(checks: Iterable[HealthCheck]) -> Verdict:
    """The worst state of ``checks`` (unconfigured counts as healthy) and the reasons of
    every check that is not healthy, worst first."""
    cs = tuple(checks)
    worst = max((_RANK[c.state] for c in cs), default=0)
    state = {0: HEALTHY, 1: DEGRADED, 2: UNHEALTHY}[worst]
    bad = sorted((c for c in cs if _RANK[c.state] > 0), key=lambda c: -_RANK[c.state])
    return Verdict(state, tuple(c.reason for c in bad), cs)


def verdict(status: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The one health verdict of a ``core.views.status`` dict: (STATE, reasons), the
    reasons worst first, each a phrase an operator reads first in ``status``. Derived from
    :func:`health_checks` (the ``health`` the status view computed with the config, else
    the checks of the dict alone)."""
    h = status.get("health")
    if h is not None:
        return str(h["state"]).upper(), list(h["reasons"])
    v = evaluate(health_checks(status))
    return v.state.upper(), list(v.reasons)
