"""The report at any number of IPs (issue 18.9, cardinality): bounded memory.

:func:`open_report` reads everything but the IP rows (``core.views.build_report`` with
``streamed``), then :meth:`StreamedReport.rows` yields the IP rows in the report's order a
chunk at a time from the store's server-side cursor: a JSON or CSV writer streams all of
them, and :func:`top_rows` keeps the ``n`` worst (by severity, then volume) and the totals
for the human views (table, markdown, the console, the metrics).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsconsole.core.config import EngineConfig
from opsconsole.core.fleet import fleet_of
from opsconsole.core.health import UNPOOLED, ip_standing
from opsconsole.core.stats import Severity, WindowStats

KeyRow = tuple[str, str, WindowStats]
CHUNK = 2000
SEVERITY_RANK = {s.label: int(s) for s in Severity}


def group_keys(
    rows: Sequence[KeyRow],
) -> list[tuple[str, WindowStats, list[tuple[str, WindowStats]]]]:
    """Consecutive keys of one IP as (ip, totals, subusers sorted)."""
    out: list[tuple[str, WindowStats, list[tuple[str, WindowStats]]]] = []
    for ip, sub, st in rows:
        if out and out[-1][0] == ip:
            prev = out[-1]
            out[-1] = (ip, prev[1] + st, prev[2])
        else:
            out.append((ip, st, []))
        if sub:
            out[-1][2].append((sub, st))
    return [(ip, tot, sorted(subs)) for ip, tot, subs in out]


@dataclass
class Totals:
    """Every IP of the window, shown or not."""

    ips: int = 0
    sent: int = 0
    bounced: int = 0
    by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY_RANK, 0))
    delivered: int = 0
    deferred: int = 0
    complaints: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.ips += 1
        self.sent += int(row["sent"])
        self.bounced += int(row["bounced"])
        self.delivered += int(row["delivered"])
        self.deferred += int(row["deferred"])
        self.complaints += int(row["complaints"])
        self.by_severity[row["severity"]] = self.by_severity.get(row["severity"], 0) + 1

    def as_dict(self, shown: int) -> dict[str, Any]:
        return {"ips": self.ips, "shown": shown, "omitted": self.ips - shown,
                "sent": self.sent, "bounced": self.bounced}  # fmt: skip


@dataclass
class StreamedReport:
    head: dict[str, Any]  # the report with "ips": []
    store: Any
    lo: int
    hi: int
    host: str | None
    pool_of: dict[str, str]
    status_of: dict[str, str]
    chunk: int = CHUNK

    async def rows(self) -> AsyncGenerator[dict[str, Any], None]:
        """Every IP row in the report's order (``views.ip_rows``' rows, fleet-annotated)."""
        from opsconsole.core.views import ip_row

        t = self.head_thresholds
        fleet = fleet_of(self.store) is not None
        chunks = self.store.key_chunks(self.lo, self.hi, "rate", self.chunk)
        async with contextlib.aclosing(chunks):  # a cancelled reader frees its cursor now
            async for chunk in chunks:
                grouped = group_keys(chunk)
                hosts = await self.store.ip_hosts_of([g[0] for g in grouped]) if fleet else {}
                for ip, tot, subs in grouped:
                    row = ip_row(ip, tot, t, self.pool_of.get(ip),
                                 self.status_of.get(ip, UNPOOLED), subs)  # fmt: skip
                    if self.annotate is not None:  # before the fleet's keys, as build_report
                        self.annotate(row)
                    if fleet:
                        hs = hosts.get(ip, [])
                        row["host"] = hs[0] if hs else None
                        row["hosts"] = list(hs)
                        if self.host is not None and self.host not in hs:
                            continue
                    yield row

    head_thresholds: Any = None
    config: Any = None
    now: float = 0.0
    annotate: Callable[[dict[str, Any]], None] | None = None  # hold-offs (core.holdoff_views)

    async def provider_rows(self) -> AsyncGenerator[dict[str, Any], None]:
        """The ``providers`` section's rows (``provider_views.provider_rows``), streamed."""
        from opsconsole.core.engine.provider_check import reads_of
        from opsconsole.core.provider_views import provider_rows

        reads = reads_of(self.store)
        if reads is None or not hasattr(self.store, "provider_chunks"):
            return
        suspensions = await reads.suspensions()
        chunks = self.store.provider_chunks(self.lo, self.hi, self.chunk)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                for row in provider_rows(chunk, suspensions, self.config, self.now):
                    yield row


async def open_report(
    store: Any,
    config: EngineConfig,
    *,
    since: float | None = None,
    until: float | None = None,
    window: float | None = None,
    now: float | None = None,
    host: str | None = None,
    chunk: int = CHUNK,
) -> StreamedReport:
    from opsconsole.core.views import build_report, report_bounds

    now = time.time() if now is None else now
    lo, hi, _, _ = report_bounds(config, since, until, window, now)
    head = await build_report(
        store, config, since=since, until=until, window=window, now=now, host=host,
        streamed=True,
    )  # fmt: skip
    from opsconsole.core import holdoff_views

    pool_of, status_of = ip_standing(await store.members(), await store.plans())
    annotate = holdoff_views.annotator(await holdoff_views.state_of(store), now)
    return StreamedReport(head, store, lo, hi, host, pool_of, status_of, chunk,
                          config.monitor.thresholds, config, now, annotate)  # fmt: skip


def severity_volume(row: dict[str, Any]) -> tuple[Any, ...]:
    return SEVERITY_RANK.get(row["severity"], 0), int(row["sent"])


@functools.total_ordering
class Desc:
    """A value that sorts in reverse (a tie on volume goes to the lower address)."""

    __slots__ = ("v",)

    def __init__(self, v: str) -> None:
        self.v = v

    def __lt__(self, other: Desc) -> bool:
        return self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Desc) and self.v == other.v

    def __hash__(self) -> int:
        return hash(self.v)


def volume(row: dict[str, Any]) -> tuple[Any, ...]:
    """The metrics' choice: most sent, then the lower address."""
    return int(row["sent"]), Desc(str(row["ip"]))


async def top_rows(
    rows: AsyncIterator[dict[str, Any]],
    n: int,
    key: Callable[[dict[str, Any]], tuple[Any, ...]] = severity_volume,
) -> tuple[list[dict[str, Any]], Totals]:
    """The ``n`` rows first by ``key`` (worst severity, then most sent; earlier in the
    report's order on a tie), shown in the report's order, and the totals of all rows."""
    totals = Totals()
    heap: list[tuple[tuple[Any, ...], int, dict[str, Any]]] = []
    seq = 0
    async with contextlib.aclosing(rows):  # type: ignore[type-var]
        async for row in rows:
            totals.add(row)
            item = (key(row), -seq, row)
            seq += 1
            if n <= 0:
                continue
            if len(heap) < n:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)
    kept = sorted(heap, key=lambda it: -it[1])
    return [it[2] for it in kept], totals


async def bounded_report(
    store: Any,
    config: EngineConfig,
    n: int,
    *,
    key: Callable[[dict[str, Any]], tuple[Any, ...]] = severity_volume,
    **kw: Any,
) -> dict[str, Any]:
    """The report with at most ``n`` IP rows and ``ips_totals`` (every IP counted)."""
    sr = await open_report(store, config, **kw)
    rows, totals = await top_rows(sr.rows(), n, key)
    report = sr.head
    shown = {r["ip"] for r in rows}  # the providers of the IPs shown
    prows = sr.provider_rows()
    async with contextlib.aclosing(prows):
        report["providers"] = [r async for r in prows if r["ip"] in shown]
    report["ips"] = rows
    report["ips_totals"] = totals.as_dict(len(rows))
    report["ips_totals"]["by_severity"] = dict(totals.by_severity)
    report["ips_totals"]["delivered"] = totals.delivered
    report["ips_totals"]["deferred"] = totals.deferred
    report["ips_totals"]["complaints"] = totals.complaints
    return report
