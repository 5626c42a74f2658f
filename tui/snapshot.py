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
from opsconsole.storage import reads

SPARK_SLOTS = 12
# The sparkline query groups a whole window (the costlier half of a fetch at 5,000 IPs);
# its slots are minutes wide, so it is re-read at most this often (monotonic seconds).
SERIES_MAX_AGE = 5.0


@dataclass
class Snapshot:
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


async def fetch(
    engine: AsyncEngine, settings: Settings, now: float, previous: Snapshot | None = None
) -> Snapshot:
    started = time.perf_counter()
    report = await build_report(engine, settings, now=now)
    step = spark_step(settings.monitor.window)
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
        series, read_at = await reads.ip_series(engine, lo, hi, step), mono
    ms = (time.perf_counter() - started) * 1000
    return Snapshot(report, series, now, ms, (lo, step), read_at)


Clock = Callable[[], float]
