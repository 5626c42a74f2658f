"""Operator hold-offs and the expiry of automatic removals (pure; issue 12 point 3).

* **Hold-off.** A restore by hand (``pools restore``, TUI ``x``, ``undo`` of a removal) starts a
  hold-off of ``restore_holdoff`` seconds for that (pool, ip), recording the IP's bounce and
  complaint rates at that moment. Until it ends the engine still alerts, but it does not
  remove or deprioritize the member again unless the rate is *clearly worse*: the IP's
  severity is critical or worse AND its bounce rate is at least ``(1 + holdoff_worse)`` times
  ``max(bounce rate at restore, critical threshold)`` (or its complaint rate that many times
  ``max(complaint rate at restore, complaint block threshold)``). With the default
  ``holdoff_worse = 0.5``: restored at 18% bounce, the engine acts again at 27%; restored
  with no traffic in the window (critical 10%), at 15%.
* **Expiry.** Every removal by the engine carries an expiry (``remove_reenable_after``,
  default 6h). At expiry the member comes back by itself (``restore`` by ``engine``) when
  the IP is healthy then (severity below critical; no traffic counts as healthy, the MTA
  sent it nothing); otherwise the removal is extended by the same period (``extend_removal``,
  audited).

Everything here is a function of (state, stats, config, now); storage/holdoffs.py keeps the
rows, core.engine.check calls :func:`adjust` right after ``policy.evaluate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from opsconsole.core import rotation
from opsconsole.core.actions import Action
from opsconsole.core.durations import format_duration
from opsconsole.core.policy import Decision, ip_totals
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity, Thresholds, WindowStats, severity

Key = tuple[str, str]  # (pool, ip)


@dataclass(frozen=True, slots=True)
class Holdoff:
    pool: str
    ip: str
    until: float
    actor: str = ""
    bounce_rate: float | None = None  # the IP's rates when it was restored
    complaint_rate: float | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Expiry:
    """An automatic removal's expiry."""

    pool: str
    ip: str
    until: float
    created_at: float = 0.0
    extended: int = 0


@dataclass(frozen=True, slots=True)
class ClearHoldoff:
    pool: str
    ip: str


@dataclass(frozen=True, slots=True)
class ClearExpiry:
    pool: str
    ip: str


@dataclass(frozen=True, slots=True)
class UndoMark:
    """Audit entry ``audit_id`` has been undone (by ``actor``): it cannot be undone twice."""

    audit_id: int
    actor: str
    at: float


# What Changes.holdoffs carries (storage/holdoffs.write applies them in order).
HoldoffOp = Holdoff | Expiry | ClearHoldoff | ClearExpiry | UndoMark


@dataclass(frozen=True, slots=True)
class HoldoffConfig:
    holdoff: float = 1800.0  # restore_holdoff
    worse: float = 0.5  # holdoff_worse: relative rise that overrides a hold-off
    reenable_after: float = 6 * 3600.0  # remove_reenable_after (0: never expire)


@dataclass(frozen=True, slots=True)
class HoldoffState:
    holdoffs: Mapping[Key, Holdoff] = field(default_factory=dict)
    expiries: Mapping[Key, Expiry] = field(default_factory=dict)


def clearly_worse(h: Holdoff, stats: WindowStats, t: Thresholds, worse: float) -> bool:
    """Whether ``stats`` overrides hold-off ``h`` (see the module docstring)."""
    if severity(stats, t) < Severity.CRITICAL:
        return False
    factor = 1.0 + worse
    bounce = stats.bounce_rate
    if bounce is not None and bounce >= factor * max(h.bounce_rate or 0.0, t.critical):
        return True
    comp = stats.complaint_rate
    return comp is not None and comp >= factor * max(h.complaint_rate or 0.0, t.complaint_block)


def start(
    pool: str, ip: str, actor: str, stats: WindowStats, config: HoldoffConfig, now: float
) -> Holdoff | None:
    """The hold-off a restore by hand starts (None when hold-offs are off)."""
    if config.holdoff <= 0:
        return None
    return Holdoff(
        pool, ip, now + config.holdoff, actor, stats.bounce_rate, stats.complaint_rate, now
    )


def remaining(h: Holdoff | None, now: float) -> float | None:
    """Seconds left of a hold-off, None when there is none in force."""
    if h is None or now >= h.until:
        return None
    return h.until - now


def adjust(
    decision: Decision,
    before: Sequence[MemberState],
    key_stats: Mapping[tuple[str, str], WindowStats],
    state: HoldoffState,
    config: HoldoffConfig,
    t: Thresholds,
    now: float,
) -> tuple[Decision, list[HoldoffOp]]:
    """The policy's decision with hold-offs honoured and expiries applied, and the rows to
    write. Members keep input order; an unchanged member stays the same object."""
    totals = ip_totals(key_stats)
    old = {(m.pool, m.ip): m for m in before}
    ops: list[HoldoffOp] = []
    members = list(decision.members)
    actions = list(decision.actions)
    drop: set[tuple[str, str, str]] = set()  # (action, pool, ip) suppressed
    for i, m in enumerate(members):
        key = (m.pool, m.ip)
        prev = old.get(key)
        h = state.holdoffs.get(key)
        if h is not None and now >= h.until:
            ops.append(ClearHoldoff(*key))
            h = None
        if prev is None or m is prev:
            continue
        acted = m.state in ("removed", "deprioritized") and m.state != prev.state
        if h is not None and acted:
            st = totals.get(m.ip, WindowStats())
            if clearly_worse(h, st, t, config.worse):
                ops.append(ClearHoldoff(*key))
                continue
            members[i] = prev
            drop.add(("remove" if m.state == "removed" else "deprioritize", m.pool, m.ip))
    if drop:
        actions = [a for a in actions if (a.name, a.pool, a.ip) not in drop]
    # Expiry of automatic removals.
    by_key = {(m.pool, m.ip): i for i, m in enumerate(members)}
    for a in actions:
        if a.name == "remove" and a.actor == "engine" and config.reenable_after:
            ops.append(Expiry(a.pool, a.ip, now + config.reenable_after, now))
    for key, e in sorted(state.expiries.items()):
        idx = by_key.get(key)
        cur = members[idx] if idx is not None else None
        if cur is None or cur.state != "removed":
            ops.append(ClearExpiry(*key))  # restored (or gone) meanwhile
            continue
        if now < e.until or not config.reenable_after:
            continue
        assert idx is not None
        m = cur
        st = totals.get(m.ip, WindowStats())
        sev = severity(st, t)
        if sev < Severity.CRITICAL:
            why = f"removal expired after {format_duration(now - e.created_at)}, IP healthy"
            new, acts = rotation.restore(m, now, actor="engine", reason=why)
            members[idx] = new
            actions += acts
            ops.append(ClearExpiry(*key))
        else:
            until = now + config.reenable_after
            ops.append(Expiry(e.pool, e.ip, until, e.created_at, e.extended + 1))
            why = (
                f"removal extended by {format_duration(config.reenable_after)}: still "
                f"{sev.label} at expiry"
            )
            actions.append(
                Action(
                    "extend_removal", m.ip, m.pool, "", why,
                    {"severity": sev.label, "bounce_rate": st.bounce_rate, "until": until,
                     "extended": e.extended + 1},
                )
            )  # fmt: skip
    if not ops and not drop:
        return decision, []
    return replace(decision, members=tuple(members), actions=tuple(actions)), ops
