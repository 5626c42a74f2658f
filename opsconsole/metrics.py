"""Prometheus metrics from the report snapshot: a node_exporter textfile (written
atomically after each check) and, optionally, ``/metrics`` over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from typing import TYPE_CHECKING, Any

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


def render(report: dict[str, Any]) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP opsconsole_{name} {help_}")
        out.append(f"# TYPE opsconsole_{name} {kind}")
        out.extend(f"opsconsole_{name}{labels} {value:g}" for labels, value in samples)

    from opsconsole.render import ip_lines

    key = [(_labels(ip=r["ip"], subuser=r["subuser"] or ""), r) for r in ip_lines(report)]
    metric(
        "sent", "gauge", "Delivered plus bounced in the window.", [(k, r["sent"]) for k, r in key]
    )
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
    metric(
        "source_malformed_lines",
        "counter",
        "Malformed lines per source.",
        [(_labels(source=s["name"]), s["malformed"]) for s in report["ingest"]["sources"]],
    )
    metric(
        "dnsbl_listed",
        "gauge",
        "1 when the IP is listed on the DNSBL zone (one series per checked ip and zone).",
        [(_labels(ip=r["ip"], zone=r["zone"]), 1 if r["listed"] else 0)
         for r in report.get("reputation", [])],
    )  # fmt: skip
    return "\n".join(out) + "\n"


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


class MetricsServer:
    """Serves the last rendered text at ``/metrics``; nothing else."""

    def __init__(self) -> None:
        self.text = ""
        self.server: asyncio.base_events.Server | None = None

    async def start(self, listen: str) -> tuple[str, int]:
        host, port = parse_listen(listen)
        self.server = await asyncio.start_server(self._handle, host, port)
        sock = self.server.sockets[0].getsockname()
        return sock[0], sock[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            ok = len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics"
            body = (self.text if ok else "not found\n").encode()
            status = "200 OK" if ok else "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class MetricsExporter:
    """The engine service that renders the metrics after each check: to the textfile, and
    to ``/metrics`` when a listener is configured. A busy port is one warning, never fatal
    (a second console on a host whose daemon already serves the port still runs)."""

    def __init__(
        self, store: ReadStore, config: EngineConfig, textfile: str | None, listen: str | None
    ) -> None:
        self.store = store
        self.config = config
        self.textfile = textfile
        self.listen = listen
        self.server: MetricsServer | None = None

    async def start(self) -> None:
        if not self.listen:
            return
        server = MetricsServer()
        try:
            host, port = await server.start(self.listen)
        except (OSError, ValueError) as e:
            log.warning("metrics listener %s not started: %s", self.listen, e)
            return
        self.server = server
        log.info("metrics on http://%s:%d/metrics", host, port)

    async def after_check(self, now: float) -> None:
        if not (self.textfile or self.server):
            return
        from opsconsole.core.views import build_report

        text = render(await build_report(self.store, self.config, now=now))
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
