"""The report of spec section 6, as one dict: what ``report``, the TUI and export share.

Views read this snapshot; they never compute policy. The engine's sections come from its
tables, so a report is the same whether or not an engine is running.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core import rotation, warmup
from opsconsole.core.notify.payload import iso_millis
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity, Thresholds, WindowStats, severity
from opsconsole.core.warmup import PlanState
from opsconsole.settings import Settings
from opsconsole.storage import reads

REPORT_KEYS = (
    "generated_at",
    "since",
    "until",
    "window_seconds",
    "engine",
    "thresholds",
    "ips",
    "warmups",
    "pools",
    "alerts",
    "unattributed",
    "ingest",
)


def iso(ts: float | None) -> str | None:
    """Report times: the webhook's format (``...T10:30:45.123Z``), null when unknown."""
    return None if ts is None else iso_millis(ts)


def rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def ip_row(
    ip: str, subuser: str, s: WindowStats, t: Thresholds, pool: str | None, status: str
) -> dict[str, Any]:
    return {
        "ip": ip,
        "subuser": subuser or None,
        "pool": pool,
        "status": status,
        "sent": s.sent,
        "delivered": s.delivered,
        "bounced": s.bounced,
        "hard_bounced": s.hard_bounced,
        "soft_bounced": s.soft_bounced,
        "deferred": s.deferred,
        "complaints": s.complaints,
        "bounce_rate": rate(s.bounce_rate),
        "complaint_rate": rate(s.complaint_rate),
        "deferral_rate": rate(s.deferral_rate),
        "severity": severity(s, t).label,
    }


def _sort_key(row: dict[str, Any]) -> tuple[float, int, str]:
    r = row["bounce_rate"]
    return (-(r if r is not None else -1.0), -row["sent"], row["ip"])


def engine_section(
    lease: dict[str, Any] | None, now: float, check_interval: float
) -> dict[str, Any]:
    running = bool(lease and lease["expires_at"] > now)
    return {
        "running": running,
        "role": "leader" if running else "none",
        "holder": lease["holder"] if lease else None,
        "host": lease["host"] if lease else None,
        "check_interval_seconds": (lease["check_interval"] if lease else None) or check_interval,
        "last_check_at": iso(lease["last_check_at"]) if lease else None,
        "heartbeat_at": iso(lease["heartbeat_at"]) if lease else None,
        "events_per_s": lease["events_per_s"] if lease else 0.0,
    }


async def build_report(
    engine: AsyncEngine,
    settings: Settings,
    *,
    since: float | None = None,
    until: float | None = None,
    window: float | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The report over [since, until), or the rolling ``window`` (default: monitor.window)."""
    now = time.time() if now is None else now
    if since is not None or until is not None:
        until = now if until is None else until
        since = until - (window or settings.monitor.window) if since is None else since
        lo, hi = reads.range_bounds(since, until)
    else:
        win = window or settings.monitor.window
        lo, hi = reads.window_bounds(now, win)
        since, until = now - win, now
    t = settings.monitor.policy_thresholds()

    stats = await reads.window_stats(engine, lo, hi)
    members = await reads.read_members(engine)
    plans = await reads.read_plans(engine)
    alerts = await reads.read_alerts(engine, limit=200)
    lease = await reads.read_lease(engine)
    sources = await reads.ingest_sources(engine)

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

    unattributed = WindowStats()
    ips = []
    for (ip, subuser), s in stats.items():
        if not ip:
            unattributed = unattributed + s
            continue
        ips.append(ip_row(ip, subuser, s, t, pool_of.get(ip), status_of.get(ip, "unpooled")))
    ips.sort(key=_sort_key)

    auto_resume = settings.warmup.auto_resume_after
    sent_today = await reads.warmup_sent_today(engine, plans, hi)
    warmups = [plan_view(p, sent_today[p.ip], auto_resume) for p in plans]
    return {
        "generated_at": iso(now),
        "since": iso(since),
        "until": iso(until),
        "window_seconds": int(hi - lo),
        "engine": engine_section(lease, now, settings.monitor.check_interval),
        "thresholds": {
            "warning": t.warning,
            "critical": t.critical,
            "block": t.block,
            "min_sample": t.min_sample,
            "complaint_warning": t.complaint_warning,
            "complaint_block": t.complaint_block,
        },
        "ips": ips,
        "warmups": warmups,
        "pools": pools_section(members, plans),
        "alerts": [alert_row(a) for a in alerts],
        "unattributed": {
            "delivered": unattributed.delivered,
            "bounced": unattributed.bounced,
            "deferred": unattributed.deferred,
            "complaints": unattributed.complaints,
        },
        "ingest": {"sources": [source_row(s) for s in sources]},
    }


def source_row(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": s["name"],
        "format": s["format"],
        "path": s["path"],
        "last_event_at": iso(s["last_event_at"]),
        "lines": s["lines"],
        "events": s["events"],
        "malformed": s["malformed"],
        "unattributed": s["unattributed"],
        "error": s["error"],
    }


def alert_row(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a["id"],
        "key": a["key"],
        "rule": a["rule"],
        "severity": a["severity"],
        "state": a["state"],
        "title": a["title"],
        "message": a["message"],
        "ip": a["ip"] or None,
        "subuser": a["subuser"] or None,
        "value": a["value"],
        "opened_at": iso(a["opened_at"]),
        "last_seen_at": iso(a["last_seen_at"]),
        "acknowledged_by": a["acknowledged_by"],
        "acknowledged_at": iso(a["acknowledged_at"]),
        "resolved_at": iso(a["resolved_at"]),
    }


def plan_view(p: PlanState, sent_today: int, auto_resume_after: float | None) -> dict[str, Any]:
    return {
        "ip": p.ip,
        "pool": p.pool,
        "schedule": p.schedule,
        "stage": p.stage + 1,
        "stages_total": len(p.daily_quotas),
        "day": p.day + 1,
        "stage_days": p.stage_days,
        "daily_quota": warmup.daily_quota(p),
        "sent_today": sent_today,
        "state": p.state,
        "state_reason": p.state_reason,
        "next_change_at": iso(warmup.next_change_at(p, auto_resume_after)),
    }


def pools_section(members: list[MemberState], plans: list[PlanState]) -> list[dict[str, Any]]:
    quotas = warmup.warmup_quotas(plans)
    by_pool: dict[str, list[MemberState]] = {}
    for m in members:
        by_pool.setdefault(m.pool, []).append(m)
    return [
        {
            "name": name,
            "members": [
                {
                    "ip": m.ip,
                    "weight": m.weight,
                    "base_weight": m.base_weight,
                    "state": m.state,
                    "daily_cap": m.daily_cap,
                }
                for m in ms
            ],
            "active_ips": sum(m.state in ("active", "deprioritized") for m in ms),
            "daily_capacity": rotation.pool_capacity(ms, quotas),
            "uncapped": rotation.uncapped(ms),
        }
        for name, ms in by_pool.items()
    ]


SEVERITY_STYLE = {
    Severity.INSUFFICIENT.label: "dim",
    Severity.OK.label: "green",
    Severity.WARNING.label: "yellow",
    Severity.CRITICAL.label: "dark_orange",
    Severity.BLOCK.label: "bold red",
}
