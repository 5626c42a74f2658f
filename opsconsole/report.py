"""The report of spec section 6, as one dict: what ``report``, the TUI and export share.

Views read this snapshot; they never compute policy. The engine's sections come from its
tables, so a report is the same whether or not an engine is running.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.stats import Severity, Thresholds, WindowStats, severity
from opsconsole.core.warmup_view import plan_view
from opsconsole.settings import Settings
from opsconsole.storage import queries, state

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
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        lo, hi = queries.range_bounds(since, until)
    else:
        win = window or settings.monitor.window
        lo, hi = queries.window_bounds(now, win)
        since, until = now - win, now
    t = settings.monitor.policy_thresholds()

    stats = await queries.window_stats(engine, lo, hi)
    members = await state.read_members(engine)
    plans = await state.read_plans(engine)
    alerts = await state.read_alerts(engine, limit=200)
    lease = await state.read_lease(engine)
    sources = await queries.ingest_sources(engine)

    pool_of: dict[str, str] = {}
    status_of: dict[str, str] = {}
    for m in members:
        pool_of.setdefault(m["ip"], m["pool"])
        status_of.setdefault(m["ip"], m["state"])
    for p in plans:
        if p["state"] != "completed":
            status_of[p["ip"]] = p["state"]
        if p["pool"]:
            pool_of.setdefault(p["ip"], p["pool"])

    unattributed = WindowStats()
    ips = []
    for (ip, subuser), s in stats.items():
        if not ip:
            unattributed = unattributed + s
            continue
        ips.append(ip_row(ip, subuser, s, t, pool_of.get(ip), status_of.get(ip, "unpooled")))
    ips.sort(key=_sort_key)

    today = int(now) // 86400 * 86400
    sent_today = await queries.sent_since(engine, today) if plans else {}
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
        "warmups": [plan_view(p, sent_today.get(p["ip"], 0), iso) for p in plans],
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


def pools_section(
    members: list[dict[str, Any]], plans: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    from opsconsole.core.warmup_view import current_quota

    quota = {p["ip"]: current_quota(p) for p in plans if p["state"] != "completed"}
    pools: dict[str, dict[str, Any]] = {}
    for m in members:
        p = pools.setdefault(
            m["pool"], {"name": m["pool"], "members": [], "active_ips": 0, "daily_capacity": 0}
        )
        p["members"].append(
            {
                "ip": m["ip"],
                "weight": m["weight"],
                "base_weight": m["base_weight"],
                "state": m["state"],
            }
        )
        if m["state"] in ("active", "deprioritized"):
            p["active_ips"] += 1
        if m["state"] == "warming" or m["ip"] in quota:
            p["daily_capacity"] += quota.get(m["ip"], 0)
        elif m["state"] != "removed":
            p["daily_capacity"] += m["daily_cap"] or 0
    return list(pools.values())


SEVERITY_STYLE = {
    Severity.INSUFFICIENT.label: "dim",
    Severity.OK.label: "green",
    Severity.WARNING.label: "yellow",
    Severity.CRITICAL.label: "dark_orange",
    Severity.BLOCK.label: "bold red",
}
