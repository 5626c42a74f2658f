"""What one refresh fetches: the section-6 report plus the sparkline series.

Fetching is the only I/O of a refresh; panels turn a Snapshot into rows without touching
the database, so a refresh is one read and (at most) one redraw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.report import build_report
from opsconsole.settings import Settings
from opsconsole.storage import queries

SPARK_SLOTS = 12


@dataclass
class Snapshot:
    report: dict[str, Any]
    series: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    now: float = 0.0
    fetch_ms: float = 0.0

    def warmup_of(self, ip: str) -> dict[str, Any] | None:
        return next((w for w in self.report["warmups"] if w["ip"] == ip), None)

    def members_of(self, ip: str) -> list[tuple[str, dict[str, Any]]]:
        return [(p["name"], m) for p in self.report["pools"] for m in p["members"] if m["ip"] == ip]

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        return next((a for a in self.report["alerts"] if a["id"] == alert_id), None)


def spark_step(window: float, slots: int = SPARK_SLOTS) -> int:
    """Slot length (a whole number of minutes) so ``slots`` slots cover the window."""
    return max(60, int(window) // slots // 60 * 60)


async def fetch(engine: AsyncEngine, settings: Settings, now: float) -> Snapshot:
    started = time.perf_counter()
    report = await build_report(engine, settings, now=now)
    step = spark_step(settings.monitor.window)
    hi = int(now) // 60 * 60 + 60
    lo = hi - step * SPARK_SLOTS
    series = await queries.ip_series(engine, lo, hi, step)
    return Snapshot(report, series, now, (time.perf_counter() - started) * 1000)


Clock = Callable[[], float]
