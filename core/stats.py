"""Window statistics and severity, as section 3 of the spec defines them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

K = TypeVar("K")
G = TypeVar("G")


class Severity(IntEnum):
    """Ordered so that ``max()`` picks the worst."""

    INSUFFICIENT = 0
    OK = 1
    WARNING = 2
    CRITICAL = 3
    BLOCK = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Thresholds:
    warning: float = 0.05
    critical: float = 0.10
    block: float = 0.15
    min_sample: int = 10
    complaint_warning: float = 0.001
    complaint_block: float = 0.003


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Counters of one key (ip, subuser) over one window."""

    delivered: int = 0
    bounced: int = 0
    hard_bounced: int = 0
    soft_bounced: int = 0
    deferred: int = 0
    complaints: int = 0

    @property
    def sent(self) -> int:
        return self.delivered + self.bounced

    @property
    def bounce_rate(self) -> float | None:
        return self.bounced / self.sent if self.sent else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.delivered if self.delivered else None

    @property
    def deferral_rate(self) -> float | None:
        total = self.sent + self.deferred
        return self.deferred / total if total else None

    def __add__(self, other: WindowStats) -> WindowStats:
        return WindowStats(
            self.delivered + other.delivered,
            self.bounced + other.bounced,
            self.hard_bounced + other.hard_bounced,
            self.soft_bounced + other.soft_bounced,
            self.deferred + other.deferred,
            self.complaints + other.complaints,
        )


def summed(stats: Mapping[K, WindowStats], group: Callable[[K], G]) -> dict[G, WindowStats]:
    """``stats`` added up per ``group(key)`` (e.g. per IP over its subusers), groups in the
    order first seen."""
    out: dict[G, WindowStats] = {}
    for key, st in stats.items():
        g = group(key)
        prev = out.get(g)
        out[g] = st if prev is None else prev + st
    return out


def bounce_severity(stats: WindowStats, t: Thresholds) -> Severity:
    rate = stats.bounce_rate
    if stats.sent < t.min_sample or rate is None:
        return Severity.INSUFFICIENT
    if rate >= t.block:
        return Severity.BLOCK
    if rate >= t.critical:
        return Severity.CRITICAL
    if rate >= t.warning:
        return Severity.WARNING
    return Severity.OK


def complaint_severity(stats: WindowStats, t: Thresholds) -> Severity:
    """Complaints have two levels: warning and block (there is no critical level)."""
    rate = stats.complaint_rate
    if stats.sent < t.min_sample or rate is None:
        return Severity.INSUFFICIENT
    if rate >= t.complaint_block:
        return Severity.BLOCK
    if rate >= t.complaint_warning:
        return Severity.WARNING
    return Severity.OK


def severity(stats: WindowStats, t: Thresholds) -> Severity:
    """The worse of the bounce and complaint severities."""
    return max(bounce_severity(stats, t), complaint_severity(stats, t))
