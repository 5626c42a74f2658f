"""The fleet in the views (issue 13.4): which host reads which IP and source, and each
host's engine and freshness. Pure over what the store's ``fleet()`` reads hand it; a store
without fleet rows (a test double) leaves the report as it was.

A host is *running* while one of its engines (leader or follower) wrote a heartbeat within
:func:`heartbeat_ttl`; it is *fresh* while it runs and, if it reads sources, the newest
event it committed is younger than ``monitor.stale_after``. A host whose engine stopped
stays listed (``engine_running: false``, ``fresh: false``) until its rows are pruned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opsconsole.core.config import EngineConfig
from opsconsole.core.notify.payload import iso_millis
from opsconsole.core.ports import Row


class FleetReads(Protocol):
    async def heartbeats(self) -> list[Row]: ...

    async def ip_hosts(self) -> dict[str, list[str]]: ...

    async def host_activity(self) -> list[Row]: ...


@dataclass(frozen=True)
class FleetData:
    heartbeats: Sequence[Row]
    ip_hosts: Mapping[str, list[str]]
    activity: Sequence[Row]


def fleet_of(store: object) -> FleetReads | None:
    make = getattr(store, "fleet", None)
    return make() if callable(make) else None


async def read_fleet(store: object, ip_hosts: bool = True) -> FleetData | None:
    """``ip_hosts=False``: without the per-IP map (a streamed report reads it per chunk)."""
    f = fleet_of(store)
    if f is None:
        return None
    hosts = await f.ip_hosts() if ip_hosts else {}
    return FleetData(await f.heartbeats(), hosts, await f.host_activity())


def heartbeat_ttl(config: EngineConfig) -> float:
    """How old an engine's last heartbeat may be before its host counts as stopped: the
    lease TTL or three check intervals, whichever is longer (a follower beats every tick)."""
    m = config.monitor
    return max(m.lease_ttl, 3 * m.check_interval)


def hosts_section(
    data: FleetData, sources: Sequence[Mapping[str, Any]], config: EngineConfig, now: float
) -> list[dict[str, Any]]:
    """One row per host known from a heartbeat, a source or an IP it read."""
    ttl = heartbeat_ttl(config)
    stale_after = config.monitor.stale_after
    beats: dict[str, list[Row]] = {}
    for b in data.heartbeats:
        beats.setdefault(str(b["host"]), []).append(b)
    srcs: dict[str, list[Mapping[str, Any]]] = {}
    for s in sources:
        h = str(s.get("host") or "")
        if h:
            srcs.setdefault(h, []).append(s)
    act = {str(a["host"]): a for a in data.activity}
    out = []
    for host in sorted(set(beats) | set(srcs) | set(act)):
        hb = beats.get(host, [])
        live = [b for b in hb if b["role"] != "stopped" and now - float(b["seen_at"]) <= ttl]
        seen = max((float(b["seen_at"]) for b in hb), default=None)
        lasts = [float(s["last_event_at"]) for s in srcs.get(host, []) if s["last_event_at"]]
        if host in act and act[host]["last_event_at"] is not None:
            lasts.append(float(act[host]["last_event_at"]))
        last = max(lasts, default=None)
        reads = bool(srcs.get(host)) or host in act
        fresh_events = not reads or (last is not None and now - last < stale_after)
        roles = sorted({str(b["role"]) for b in live})
        out.append(
            {
                "host": host,
                "engine_running": bool(live),
                "role": "leader" if "leader" in roles else (roles[0] if roles else "none"),
                "heartbeat_at": None if seen is None else iso_millis(seen),
                "heartbeat_age_seconds": None if seen is None else round(now - seen, 1),
                "sources": sorted(str(s["name"]) for s in srcs.get(host, [])),
                "ips": int(act[host]["ips"]) if host in act else 0,
                "last_event_at": None if last is None else iso_millis(last),
                "fresh": bool(live) and fresh_events,
            }
        )
    return out


def annotate(report: dict[str, Any], data: FleetData, host: str | None = None) -> None:
    """A ``host`` on each IP row (the host that read it last; ``hosts``: all of them; each
    source row has its own); with ``host`` given, only that host's IPs, sources and row."""
    for row in report.get("ips", []):
        hs = data.ip_hosts.get(row["ip"], [])
        row["host"] = hs[0] if hs else None
        row["hosts"] = list(hs)
    if host is None:
        return
    report["ips"] = [r for r in report["ips"] if host in r["hosts"]]
    ing = report.get("ingest", {})
    ing["sources"] = [s for s in ing.get("sources", []) if s["host"] == host]
    report["hosts"] = [h for h in report.get("hosts", []) if h["host"] == host]
    report["host"] = host


async def add_fleet(
    report: dict[str, Any],
    store: object,
    config: EngineConfig,
    now: float,
    sources: Sequence[Mapping[str, Any]] = (),
    host: str | None = None,
    ip_hosts: bool = True,
) -> dict[str, Any]:
    """``report`` with its fleet parts (in place): the ``hosts`` section from the raw
    ``sources`` rows (times as numbers) and the host fields."""
    data = await read_fleet(store, ip_hosts)
    if data is None:
        report["hosts"] = []
        return report
    report["hosts"] = hosts_section(data, sources, config, now)
    annotate(report, data, host)
    return report


async def add_health(
    status: dict[str, Any],
    store: object,
    config: EngineConfig,
    now: float,
    sources: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A ``core.views.status`` result with the fleet's ``hosts`` (from the raw ``sources``
    rows status read, times as numbers) and the ``health`` verdict (``core.health``) added,
    in place."""
    from opsconsole.core import health

    data = await read_fleet(store)
    if data is not None:
        status["hosts"] = hosts_section(data, sources, config, now)
    checks = health.health_checks(
        status, [s.name for s in config.sources], heartbeat_ttl=heartbeat_ttl(config)
    )
    v = health.evaluate(checks)
    status["health"] = {
        "state": v.state,
        "reasons": list(v.reasons),
        "checks": [c.as_dict() for c in checks],
    }
    return status


async def hosts_of_ip(store: object, ip: str) -> list[str]:
    """The hosts that read ``ip``, most recent first ([] without fleet rows)."""
    f = fleet_of(store)
    return [] if f is None else list((await f.ip_hosts()).get(ip, []))
