"""The read model: every number a person or a scraper sees is computed here, once.

``report``, ``check``, ``status``, the metrics and every TUI panel and screen read through
these functions, so a bounce rate looks the same everywhere. They read through
:class:`ReadStore` and apply the pure rules of ``core`` (severity, IP standing); they never
decide anything the engine decides.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsconsole.core import fleet, holdoff_views, provider_views, rotation, warmup
from opsconsole.core.config import EngineConfig
from opsconsole.core.health import UNPOOLED, ip_standing
from opsconsole.core.notify.dispatcher import NotifierStats
from opsconsole.core.notify.payload import iso_millis
from opsconsole.core.notify.sender import named
from opsconsole.core.ports import EngineStore, Key, Row
from opsconsole.core.redact import redact_url
from opsconsole.core.reputation.report import reputation_sections, zone_status
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Thresholds, WindowStats, severity
from opsconsole.core.warmup import PlanState
from opsconsole.core.windows import range_bounds, window_bounds

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
DEFAULT_WINDOWS = (("15m", 900.0), ("1h", 3600.0), ("24h", 86400.0))
SPARK_SLOTS = 12
# The sparkline query groups a whole window (the costlier half of a fetch at 5,000 IPs);
# its slots are minutes wide, so it is re-read at most this often (monotonic seconds).
SERIES_MAX_AGE = 5.0


class ReadStore(Protocol):
    """What the views read; ``storage`` implements it (``SqlStore``)."""

    async def window_stats(self, lo: int, hi: int) -> dict[Key, WindowStats]: ...

    async def ip_window_stats(
        self, ip: str, lo: int, hi: int, subuser: str | None = None
    ) -> WindowStats: ...

    async def members(self) -> list[MemberState]: ...

    async def plans(self) -> list[PlanState]: ...

    async def alerts(self, state: str | None = None, limit: int = 500) -> list[Row]: ...

    async def lease(self) -> Row | None: ...

    async def ingest_sources(self) -> list[Row]: ...

    async def warmup_sent_today(self, plans: Iterable[PlanState], hi: int) -> dict[str, int]: ...

    async def ip_series(
        self, lo: int, hi: int, step: int, ips: Sequence[str] | None = None
    ) -> dict[str, list[tuple[int, int]]]: ...

    async def bounce_samples(self, ip: str, limit: int = 20) -> list[Row]: ...

    async def audit_entries(
        self, since: float | None = None, ip: str | None = None, limit: int = 1000
    ) -> list[Row]: ...

    async def outbox_stats(self) -> dict[str, NotifierStats]: ...

    async def silences(self, now: float) -> list[Row]: ...

    async def alert_history(self, alert_id: str) -> tuple[list[Row], list[Row]]: ...


class ConsoleStore(EngineStore, ReadStore, Protocol):
    """What the live console holds: the engine's ports and the read model's."""

    async def close(self) -> None: ...


def iso(ts: float | None) -> str | None:
    """Report times: the webhook's format (``...T10:30:45.123Z``), null when unknown."""
    return None if ts is None else iso_millis(ts)


def rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def counts(s: WindowStats, t: Thresholds) -> dict[str, Any]:
    """The counters, rates and severity of one window, as every view shows them."""
    return {
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


def ip_row(
    ip: str,
    s: WindowStats,
    t: Thresholds,
    pool: str | None,
    status: str,
    subusers: Sequence[tuple[str, WindowStats]] = (),
) -> dict[str, Any]:
    """One IP: its totals (what the policy judges, complaints without a subuser included)
    and, below, each subuser's own counts."""
    return (
        {"ip": ip, "pool": pool, "status": status}
        | counts(s, t)
        | {"subusers": [{"subuser": su} | counts(st, t) for su, st in subusers]}
    )


def ip_rows(
    stats: Mapping[Key, WindowStats],
    t: Thresholds,
    pool_of: Mapping[str, str],
    status_of: Mapping[str, str],
) -> tuple[list[dict[str, Any]], WindowStats]:
    """Per-(ip, subuser) window counters as one row per IP, worst bounce rate first, and
    the unattributed totals (ip '')."""
    unattributed = WindowStats()
    totals: dict[str, WindowStats] = {}
    subs: dict[str, list[tuple[str, WindowStats]]] = {}
    for (ip, subuser), s in stats.items():
        if not ip:
            unattributed = unattributed + s
            continue
        prev = totals.get(ip)
        totals[ip] = s if prev is None else prev + s
        if subuser:
            subs.setdefault(ip, []).append((subuser, s))
    order = sorted(totals, key=lambda ip: report_order(ip, totals[ip]))
    rows = [
        ip_row(ip, totals[ip], t, pool_of.get(ip), status_of.get(ip, UNPOOLED),
               sorted(subs.get(ip, ())))
        for ip in order
    ]  # fmt: skip
    return rows, unattributed


def report_order(ip: str, s: WindowStats) -> tuple[float, int, str]:
    """The report's order: worst exact bounce rate first (none last), most sent, address;
    the database sorts the streamed report the same way (storage/ip_stream.py)."""
    r = s.bounce_rate
    return (-(r if r is not None else -1.0), -s.sent, ip)


def report_bounds(
    config: EngineConfig,
    since: float | None,
    until: float | None,
    window: float | None,
    now: float,
) -> tuple[int, int, float, float]:
    """(lo, hi) bucket minutes and (since, until) of a report."""
    m = config.monitor
    if since is not None or until is not None:
        until = now if until is None else until
        since = until - (window or m.window) if since is None else since
        lo, hi = range_bounds(since, until)
    else:
        win = window or m.window
        lo, hi = window_bounds(now, win)
        since, until = now - win, now
    return lo, hi, since, until


def engine_section(lease: Row | None, now: float, check_interval: float) -> dict[str, Any]:
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


def thresholds_section(t: Thresholds) -> dict[str, Any]:
    return {
        "warning": t.warning,
        "critical": t.critical,
        "block": t.block,
        "min_sample": t.min_sample,
        "complaint_warning": t.complaint_warning,
        "complaint_block": t.complaint_block,
    }


async def build_report(
    store: ReadStore,
    config: EngineConfig,
    *,
    since: float | None = None,
    until: float | None = None,
    window: float | None = None,
    now: float | None = None,
    host: str | None = None,
    streamed: bool = False,
) -> dict[str, Any]:
    """The report over [since, until), or the rolling ``window`` (default: monitor.window);
    with ``host``, only what that host of the fleet reads."""
    now = time.time() if now is None else now
    m = config.monitor
    lo, hi, since, until = report_bounds(config, since, until, window, now)
    t = m.thresholds

    # ``streamed``: the IP rows are left out ("ips": []) for core/report_stream to stream.
    keyed = None
    if streamed:
        stats = {("", ""): await store.unattributed_stats(lo, hi)}  # type: ignore[attr-defined]
    elif (both := await provider_views.keyed_window(store, lo, hi)) is not None:
        keyed, stats = both  # the IP rows and the providers section from one pass
    else:
        stats = await store.window_stats(lo, hi)
    members = await store.members()
    plans = await store.plans()
    alerts = await store.alerts(limit=200)
    lease = await store.lease()
    sources = await store.ingest_sources()
    pool_of, status_of = ip_standing(members, plans)

    ips, unattributed = ip_rows(stats, t, pool_of, status_of)

    sent_today = await store.warmup_sent_today(plans, hi)
    auto_resume = config.warmup.auto_resume_after
    report = {
        "generated_at": iso(now),
        "since": iso(since),
        "until": iso(until),
        "window_seconds": int(hi - lo),
        "engine": engine_section(lease, now, m.check_interval),
        "thresholds": thresholds_section(t),
        "ips": ips,
        "warmups": [plan_view(p, sent_today[p.ip], auto_resume) for p in plans],
        "pools": pools_section(members, plans),
        "alerts": [alert_row(a) for a in alerts],
        "unattributed": {
            "delivered": unattributed.delivered,
            "bounced": unattributed.bounced,
            "deferred": unattributed.deferred,
            "complaints": unattributed.complaints,
        },
        "ingest": {"sources": [source_row(s) for s in sources]},
        "silences": await silences(store, now),
        "alerting": alerting_section(config),
        "providers": []
        if streamed
        else (await provider_views.providers_section(store, config, lo, hi, now, keyed=keyed)),
        **await reputation_sections(store),
    }
    holdoff_views.annotate_ips(ips, await holdoff_views.state_of(store), now)
    return await fleet.add_fleet(report, store, config, now, sources, host, ip_hosts=not streamed)


def source_row(s: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": s["name"],
        "host": s.get("host") or None,
        "format": s["format"],
        "path": s["path"],
        "last_event_at": iso(s["last_event_at"]),
        "lines": s["lines"],
        "events": s["events"],
        "malformed": s["malformed"],
        "unattributed": s["unattributed"],
        "internal": s["internal"],
        "expired": s["expired"],
        "error": s["error"],
    }


def alert_row(a: Mapping[str, Any]) -> dict[str, Any]:
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
        "provider": a.get("provider") or None,
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


def pools_section(
    members: Sequence[MemberState], plans: Sequence[PlanState]
) -> list[dict[str, Any]]:
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


# -- one IP ---------------------------------------------------------------------------------


async def ip_windows(
    store: ReadStore,
    config: EngineConfig,
    ip: str,
    now: float,
    windows: Sequence[tuple[str, float]] = DEFAULT_WINDOWS,
    subuser: str | None = None,
) -> list[dict[str, Any]]:
    """One IP (or one of its subusers) over each window: ``check`` and the IP detail."""
    t = config.monitor.thresholds
    out = []
    for name, seconds in windows:
        lo, hi = window_bounds(now, seconds)
        s = await store.ip_window_stats(ip, lo, hi, subuser)
        out.append({"window": name, "window_seconds": hi - lo} | counts(s, t))
    return out


@dataclass
class IpDetail:
    windows: list[dict[str, Any]]
    samples: list[Row]
    audit: list[Row]


async def ip_detail(store: ReadStore, config: EngineConfig, ip: str, now: float) -> IpDetail:
    return IpDetail(
        await ip_windows(store, config, ip, now),
        await store.bounce_samples(ip, limit=30),
        await store.audit_entries(ip=ip, limit=50),
    )


# -- the live console --------------------------------------------------------------------------


@dataclass
class Snapshot:
    """What one console refresh shows: the report plus the sparkline series."""

    report: dict[str, Any]
    series: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    now: float = 0.0
    fetch_ms: float = 0.0
    series_key: tuple[int, int] = (0, 0)  # (lo, step) of the series
    series_read_at: float = 0.0  # time.monotonic() of the series query

    def warmup_of(self, ip: str) -> dict[str, Any] | None:
        return next((w for w in self.report["warmups"] if w["ip"] == ip), None)

    def members_of(self, ip: str) -> list[tuple[str, dict[str, Any]]]:
        return [(p["name"], m) for p in self.report["pools"] for m in p["members"] if m["ip"] == ip]

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        return next((a for a in self.report["alerts"] if a["id"] == alert_id), None)


def spark_step(window: float, slots: int = SPARK_SLOTS) -> int:
    """Slot length (a whole number of minutes) so ``slots`` slots cover the window."""
    return max(60, int(window) // slots // 60 * 60)


CONSOLE_TOP_N = 500  # IP rows a console refresh holds (the worst; ``ips_totals`` counts all)


async def snapshot(
    store: ReadStore,
    config: EngineConfig,
    now: float,
    previous: Snapshot | None = None,
    top_n: int = CONSOLE_TOP_N,
) -> Snapshot:
    from opsconsole.core.report_stream import bounded_report

    started = time.perf_counter()
    report = await bounded_report(store, config, top_n, now=now)
    step = spark_step(config.monitor.window)
    hi = int(now) // 60 * 60 + 60
    lo = hi - step * SPARK_SLOTS
    mono = time.monotonic()
    if (
        previous is not None
        and previous.series_key == (lo, step)
        and mono - previous.series_read_at < SERIES_MAX_AGE
    ):
        series, read_at = previous.series, previous.series_read_at
    else:
        shown = [r["ip"] for r in report["ips"]]
        series = await store.ip_series(lo, hi, step, shown)
        read_at = mono
    ms = (time.perf_counter() - started) * 1000
    return Snapshot(report, series, now, ms, (lo, step), read_at)


# -- status -----------------------------------------------------------------------------------


async def status(
    store: ReadStore, config: EngineConfig, database: str, now: float | None = None
) -> dict[str, Any]:
    """Engine role and heartbeat, sources and their freshness, notifier health."""
    now = time.time() if now is None else now
    m = config.monitor
    lease = await store.lease()
    eng = engine_section(lease, now, m.check_interval)
    eng["heartbeat_age_seconds"] = round(now - lease["heartbeat_at"], 1) if lease else None
    sources = []
    raw = await store.ingest_sources()
    for s in raw:
        last = s["last_event_at"]
        sources.append({
            "name": s["name"], "host": s.get("host") or None, "format": s["format"],
            "path": s["path"], "last_event_at": iso(last),
            "age_seconds": round(now - last, 1) if last else None,
            "stale": bool(last and now - last > m.stale_after),
            "lines": s["lines"], "malformed": s["malformed"], "error": s["error"],
        })  # fmt: skip
    outbox = await store.outbox_stats()
    endpoints = {
        name: redact_url(n.url.get_secret_value()) for name, n in named(config.notify).items()
    }
    notifiers = [
        {"name": name, "endpoint": endpoints.get(name, endpoints.get(name.split("#")[0], "")),
         "pending": st.pending, "retrying": st.retrying, "failed": st.failed,
         "last_error": st.last_error, "last_sent_at": iso(st.last_sent_at)}
        for name, st in sorted(outbox.items())
    ]  # fmt: skip
    for name, url in endpoints.items():
        if not any(n["name"] == name for n in notifiers):
            notifiers.append({"name": name, "endpoint": url, "pending": 0, "retrying": 0,
                              "failed": 0, "last_error": None, "last_sent_at": None})  # fmt: skip
    data = {"database": redact_url(database), "engine": eng, "sources": sources,
            "notifiers": notifiers}  # fmt: skip
    data["reputation"] = await zone_status(store)  # DNSBL zones, SNDS (issue 14)
    return await fleet.add_health(data, store, config, now, raw)


# -- silences and the notification rules -----------------------------------------------------


def silence_row(r: Mapping[str, Any]) -> dict[str, Any]:
    rule, _, rest = str(r["key"]).partition("|")
    ip, _, subuser = rest.partition("|")
    return {"key": r["key"], "ip": ip, "subuser": subuser or None, "rule": rule,
            "until": iso(r["until"]), "actor": r["actor"]}  # fmt: skip


async def silences(store: ReadStore, now: float) -> list[dict[str, Any]]:
    """Silences in force, soonest expiry first."""
    return [silence_row(r) for r in await store.silences(now)]


def alerting_section(config: EngineConfig) -> dict[str, Any]:
    """The storm-control and inhibition rules in force, for the report and the console."""
    g = config.alerts
    return {
        "group_threshold": g.group_threshold,
        "group_by": g.group_by,
        "inhibit": sorted(name for name, n in named(config.notify).items() if n.inhibit),
    }


def window_trend(
    series: Sequence[tuple[int, int]], slots: int = 3
) -> tuple[float | None, float | None]:
    """Bounce rate of the window before and of the latest window, each ``slots`` sparkline
    slots wide (3 x 5m = 15m vs the 15m before, for a 1h window): the trend arrow compares
    these, not two refreshes a second apart. None where nothing was sent."""

    def rate_of(part: Sequence[tuple[int, int]]) -> float | None:
        sent = sum(s for s, _ in part)
        return None if sent <= 0 else sum(b for _, b in part) / sent

    if len(series) < 2 * slots:
        return None, None
    return rate_of(series[-2 * slots : -slots]), rate_of(series[-slots:])


@dataclass
class AlertDetail:
    alert: dict[str, Any] | None  # alert_row shape; None when the id is unknown
    transitions: list[dict[str, Any]]  # at, transition, actor, severity, value, note
    notifications: list[dict[str, Any]]  # created_at, notifier, attempts, outcome, error


def notification_outcome(n: Mapping[str, Any]) -> str:
    """``sent``, ``retrying`` (failed, another attempt due) or ``pending`` (not tried yet)."""
    if n["sent_at"] is not None:
        return "sent"
    return "retrying" if n["attempts"] else "pending"


async def alert_detail(store: ReadStore, alert_id: str) -> AlertDetail:
    """One alert with its history of transitions and the notifications sent for it."""
    found = [a for a in await store.alerts(limit=5000) if a["id"] == alert_id]
    events, sent = await store.alert_history(alert_id)
    notes = [
        {"created_at": n["created_at"], "notifier": n["notifier"], "attempts": n["attempts"],
         "sent_at": n["sent_at"], "outcome": notification_outcome(n),
         "error": n["last_error"] or ""}
        for n in sent
    ]  # fmt: skip
    return AlertDetail(alert_row(found[0]) if found else None, events, notes)


async def ip_timeline(store: ReadStore, config: EngineConfig, ip: str, now: float,
                      slots: int = 96) -> Any:  # fmt: skip
    """The IP detail's timeline (core.ip_console.Timeline): 24h of bounce rate in ``slots``
    slots, listing and SNDS colour changes marked."""
    from opsconsole.core.ip_console import ip_timeline as timeline

    return await timeline(store, config, ip, now, slots=slots)
