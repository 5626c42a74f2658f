"""Prometheus metrics from the report snapshot: a node_exporter textfile (written
atomically after each check) and, optionally, ``/metrics`` over HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from opsconsole.core.errors import first_line
from opsconsole.core.httpserve import HttpServer, Request, Response, ServerLimits, plain

if TYPE_CHECKING:
    from opsconsole.core.config import EngineConfig
    from opsconsole.core.views import ReadStore

log = logging.getLogger("opsconsole.metrics")

SEVERITY_LEVEL = {"insufficient": 0, "ok": 1, "warning": 2, "critical": 3, "block": 4}
STATE_LEVEL = {"active": 0, "warming": 1, "deprioritized": 2, "removed": 3}


def _labels(**kv: Any) -> str:
    parts = []
    for k, v in kv.items():
        text = "" if v is None else str(v)
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{k}="{text}"')
    return "{" + ",".join(parts) + "}"


def top_ips(report: dict[str, Any], n: int) -> set[str]:
    """The ``n`` IPs with the most sent in the window (ties by address): only they get
    per-IP series, so a hostile file or a huge fleet cannot blow up the label set."""
    rows = sorted(report["ips"], key=lambda r: (-int(r["sent"]), r["ip"]))
    return {r["ip"] for r in rows[: max(0, n)]}


def render(report: dict[str, Any], top_n: int = 50, top_providers: int = 10) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP opsconsole_{name} {help_}")
        out.append(f"# TYPE opsconsole_{name} {kind}")
        out.extend(f"opsconsole_{name}{labels} {value:g}" for labels, value in samples)

    from opsconsole.render import ip_lines

    keep = top_ips(report, top_n)
    lines = [r for r in ip_lines(report) if r["ip"] in keep]
    key = [(_labels(ip=r["ip"], subuser=r["subuser"] or ""), r) for r in lines]
    metric(
        "sent", "gauge", "Delivered plus bounced in the window (top IPs by volume).",
        [(k, r["sent"]) for k, r in key],
    )  # fmt: skip
    metric("bounced", "gauge", "Bounced in the window.", [(k, r["bounced"]) for k, r in key])
    metric("deferred", "gauge", "Deferred in the window.", [(k, r["deferred"]) for k, r in key])
    metric(
        "complaints", "gauge", "Complaints in the window.", [(k, r["complaints"]) for k, r in key]
    )
    metric(
        "bounce_rate",
        "gauge",
        "Bounced / sent in the window.",
        [(k, r["bounce_rate"]) for k, r in key if r["bounce_rate"] is not None],
    )
    metric(
        "severity",
        "gauge",
        "0 insufficient, 1 ok, 2 warning, 3 critical, 4 block.",
        [(k, SEVERITY_LEVEL[r["severity"]]) for k, r in key],
    )
    from opsconsole.provider_metrics import provider_samples

    for name, help_, samples in provider_samples(report, keep, top_providers, _labels):
        metric(name, "gauge", help_, samples)
    # Aggregates over every IP (exported or not): bounded, and what fleet alerts use.
    ips = report["ips"]
    by_sev: dict[str, int] = dict.fromkeys(SEVERITY_LEVEL, 0)
    for r in ips:
        by_sev[r["severity"]] = by_sev.get(r["severity"], 0) + 1
    totals = report.get("ips_totals")  # a bounded report (core.report_stream) counts all
    if totals is not None:
        by_sev = dict(totals["by_severity"])
    metric(
        "ips", "gauge", "IPs with traffic in the window, by severity.",
        [(_labels(severity=sv), n) for sv, n in by_sev.items()],
    )  # fmt: skip
    metric(
        "ips_exported", "gauge", "IPs with per-IP series here ([metrics] top_ips).",
        [("", len(keep))],
    )  # fmt: skip
    n_ips = totals["ips"] if totals is not None else len(ips)
    metric(
        "ips_omitted", "gauge", "IPs with traffic in the window but no per-IP series.",
        [("", n_ips - len(keep))],
    )  # fmt: skip
    for name, field_, help_ in (
        ("window_sent", "sent", "Delivered plus bounced in the window, all IPs."),
        ("window_bounced", "bounced", "Bounced in the window, all IPs."),
        ("window_deferred", "deferred", "Deferred in the window, all IPs."),
        ("window_complaints", "complaints", "Complaints in the window, all IPs."),
    ):
        total = totals[field_] if totals is not None else sum(int(r[field_]) for r in ips)
        metric(name, "gauge", help_, [("", total)])
    members = [(p["name"], m) for p in report["pools"] for m in p["members"]]
    metric(
        "pool_weight",
        "gauge",
        "Current rotation weight.",
        [(_labels(pool=p, ip=m["ip"]), m["weight"]) for p, m in members],
    )
    metric(
        "pool_member_state",
        "gauge",
        "0 active, 1 warming, 2 deprioritized, 3 removed.",
        [(_labels(pool=p, ip=m["ip"]), STATE_LEVEL.get(m["state"], -1)) for p, m in members],
    )
    metric(
        "warmup_stage",
        "gauge",
        "Current warmup stage (1-based).",
        [(_labels(ip=w["ip"], state=w["state"]), w["stage"]) for w in report["warmups"]],
    )
    firing: dict[str, int] = {}
    for a in report["alerts"]:
        if a["state"] != "resolved":
            firing[a["severity"]] = firing.get(a["severity"], 0) + 1
    metric(
        "alerts_open",
        "gauge",
        "Open alerts by severity.",
        [(_labels(severity=s), firing.get(s, 0)) for s in ("info", "warning", "critical")],
    )
    e = report["engine"]
    metric(
        "engine_leader",
        "gauge",
        "1 when an engine holds the lease.",
        [("", 1 if e["role"] == "leader" else 0)],
    )
    sources = report["ingest"]["sources"]
    src = [(_labels(source=s["name"], host=s.get("host") or ""), s) for s in sources]
    metric(
        "source_malformed_lines_total", "counter", "Malformed lines read per source.",
        [(k, s["malformed"]) for k, s in src],
    )  # fmt: skip
    metric(
        "source_lines_total", "counter", "Lines read per source.",
        [(k, s["lines"]) for k, s in src],
    )  # fmt: skip
    metric(
        "source_events_total", "counter", "Events counted per source.",
        [(k, s["events"]) for k, s in src],
    )  # fmt: skip
    hosts = report.get("hosts", [])
    metric(
        "host_engine_running", "gauge", "1 while an engine on the host sends heartbeats.",
        [(_labels(host=h["host"]), 1 if h["engine_running"] else 0) for h in hosts],
    )  # fmt: skip
    metric(
        "host_fresh", "gauge", "1 while the host's engine runs and its events are fresh.",
        [(_labels(host=h["host"]), 1 if h["fresh"] else 0) for h in hosts],
    )  # fmt: skip
    metric(
        "host_heartbeat_age_seconds", "gauge", "Seconds since the host's engine last beat.",
        [(_labels(host=h["host"]), h["heartbeat_age_seconds"]) for h in hosts
         if h["heartbeat_age_seconds"] is not None],
    )  # fmt: skip
    # Bounded: a series per (ip, zone) only while listed (absent = not listed), and per
    # zone the number of listed IPs and whether the zone is usable (docs/reputation.md).
    rep = report.get("reputation", [])
    metric(
        "dnsbl_listed",
        "gauge",
        "1 while the IP is listed on the DNSBL zone (only listed ip/zone pairs have a series).",
        [(_labels(ip=r["ip"], zone=r["zone"]), 1) for r in rep if r["listed"]],
    )  # fmt: skip
    zones = sorted({r["zone"] for r in rep} | {h["zone"] for h in
                   report.get("reputation_health", []) if h["zone"] not in _NOT_ZONES})  # fmt: skip
    metric(
        "dnsbl_zone_listed_ips", "gauge", "IPs listed on the DNSBL zone at its last check.",
        [(_labels(zone=z), sum(1 for r in rep if r["zone"] == z and r["listed"])) for z in zones],
    )  # fmt: skip
    metric(
        "reputation_source_ok", "gauge",
        "1 when the DNSBL zone (or the SNDS import) answered usably at its last check.",
        [(_labels(zone=h["zone"]), 1 if h["state"] == "ok" else 0)
         for h in report.get("reputation_health", []) if h["zone"] != "reputation"],
    )  # fmt: skip
    return "\n".join(out) + "\n"


_NOT_ZONES = ("snds", "reputation")  # health rows of the job that are no DNSBL zone


def write_textfile(path: str, text: str) -> None:
    """Atomically replace ``path`` (node_exporter must never read half a file)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".opsconsole-", suffix=".prom.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def parse_listen(listen: str) -> tuple[str, int]:
    """``9109`` -> 127.0.0.1:9109; ``0.0.0.0:9109`` as given (an explicit choice)."""
    host, sep, port = listen.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", listen
    return (host.strip("[]") or "127.0.0.1"), int(port)


# The listener serves three small GETs: tight limits (issue 18.7): a 200 KB request line
# is a 431, a slow or idle client is dropped after 5 s, at most 64 connections at once.
LIMITS = ServerLimits(
    max_head=8 * 1024, max_body=0, max_connections=64, read_timeout=5.0, keep_alive=True
)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class MetricsServer:
    """``/metrics`` (the last rendered text), ``/health`` (liveness: 200 while the process
    runs) and ``/ready`` (the ``core.health`` verdict: 200 healthy or degraded, 503
    unhealthy or the database unreachable) on :class:`core.httpserve.HttpServer`."""

    def __init__(self, ready: Callable[[], Awaitable[tuple[str, list[str]]]] | None = None) -> None:
        self.text = ""
        self.ready = ready
        self.http = HttpServer(self._handle, LIMITS)

    @property
    def server(self) -> Any:
        """The listening ``asyncio.Server`` (its sockets name the bound address)."""
        return self.http._server

    async def start(self, listen: str) -> tuple[str, int]:
        host, port = parse_listen(listen)
        if host not in LOOPBACK:
            log.warning(
                "metrics listener bound to %s, beyond loopback: anyone who can reach this"
                " host:port reads the fleet's IPs and health (no authentication)",
                host,
            )
        await self.http.start(host, port)
        return host, self.http.port

    async def _handle(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return plain(405)
        if req.path == "/metrics":
            return Response(200, self.text.encode(), "text/plain; version=0.0.4; charset=utf-8")
        if req.path == "/health":
            return plain(200, "ok")
        if req.path == "/ready":
            if self.ready is None:
                return plain(200, "ok")
            try:
                state, reasons = await self.ready()
            except Exception as e:  # the database is unreachable: not ready
                return plain(503, f"unhealthy\ndatabase: {first_line(e)}")
            body = "\n".join([state, *reasons])
            return plain(503 if state == "unhealthy" else 200, body)
        return plain(404)

    async def close(self) -> None:
        await self.http.close()


class MetricsExporter:
    """The engine service that renders the metrics after each check: to the textfile, and
    to ``/metrics`` when a listener is configured. A busy port is one warning, never fatal
    (a second console on a host whose daemon already serves the port still runs)."""

    def __init__(
        self,
        store: ReadStore,
        config: EngineConfig,
        textfile: str | None,
        listen: str | None,
        top_n: int = 50,
        database: str = "",
    ) -> None:
        self.store = store
        self.config = config
        self.textfile = textfile
        self.listen = listen
        self.top_n = top_n
        self.database = database
        self.server: MetricsServer | None = None

    async def ready(self) -> tuple[str, list[str]]:
        """The health verdict, read now (``/ready``)."""
        import time

        from opsconsole.core.views import status

        data = await status(self.store, self.config, self.database, time.time())
        return str(data["health"]["state"]), list(data["health"]["reasons"])

    async def start(self) -> None:
        if not self.listen:
            return
        server = MetricsServer(self.ready)
        try:
            host, port = await server.start(self.listen)
        except (OSError, ValueError) as e:
            log.warning("metrics listener %s not started: %s", self.listen, e)
            return
        self.server = server
        log.info("metrics on http://%s:%d/metrics (and /health, /ready)", host, port)

    async def after_check(self, now: float) -> None:
        if not (self.textfile or self.server):
            return
        from opsconsole.core.report_stream import bounded_report, volume

        report = await bounded_report(self.store, self.config, self.top_n, key=volume, now=now)
        text = render(report, self.top_n, self.config.providers.metrics_top)
        if self.server is not None:
            self.server.text = text
        if self.textfile:
            try:
                write_textfile(self.textfile, text)
            except OSError as e:
                log.warning("cannot write metrics textfile: %s", e)

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None
