"""What every renderer shares: time formats, classification, the base class."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from itertools import islice

from opsconsole.core.events import Event, Kind
from opsconsole.simulator.scenario import Domain, Scenario
from opsconsole.simulator.truth import Truth

_MON = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SIZES = tuple(str(s) for s in range(18_000, 90_000, 1_237))
_KIND_NAMES = {k: k.name.lower() for k in Kind}


def _pmta_time(sec: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+0000", time.gmtime(sec))


def _syslog_time(sec: int) -> str:
    tm = time.gmtime(sec)
    return f"{_MON[tm.tm_mon]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"


def _rfc3339_prefix(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


class _Sink:
    """A file-like ``write`` that collects csv.writer rows into a list."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


def _classify(status: str, diag: str) -> str:
    """Outcome type of a response, for bounceCat / bounce_classification."""
    s = status
    if s.startswith(("5.1.", "4.1.")):
        return "hard" if s[0] == "5" else "other"
    if s in ("5.2.1", "4.2.1"):
        return "inactive"
    if s.endswith(".2.2"):
        return "quota" if s[0] == "5" else "defer_quota"
    if s[0:1] == "4":
        return "defer_rate"
    if s.startswith("5.7."):
        low = diag.lower()
        if any(w in low for w in ("spam", "unsolicited", "block list", "blocked using")):
            return "spam"
        return "policy"
    return "other"


class _Renderer:
    fmt = ""

    def __init__(self, scenario: Scenario | None, seed: int, truth: Truth | None) -> None:
        self.scenario = scenario or Scenario.default()
        self.rng = random.Random(seed)
        self.ip_map = self.scenario.ip_map(self.fmt) if self.fmt else {}
        self.truth = truth if truth is not None else Truth(self.fmt, dict(self.ip_map))
        self.by_ip = {p.ip: p for p in self.scenario.ips}
        self.by_dom = {d.name: d for d in self.scenario.domains}
        self._class_cache: dict[str, str] = {}
        self._last_sec = -1
        self._last_stamp = ""

    def domain(self, name: str) -> Domain:
        d = self.by_dom.get(name)
        if d is None:
            d = Domain(name, 0, f"mx.{name or 'invalid'}", "192.0.2.25", "generic")
            self.by_dom[name] = d
        return d

    def classify(self, status: str, diag: str) -> str:
        c = self._class_cache.get(diag)
        if c is None:
            c = self._class_cache[diag] = _classify(status, diag)
        return c

    def count(
        self, ip: str | None, sub: str | None, kind: int, hard: bool, domain: str = ""
    ) -> None:
        key = (ip, sub, kind, bool(hard) and kind == Kind.BOUNCED)
        tally = self.truth.tally
        tally[key] = tally.get(key, 0) + 1
        dkey = (*key, domain)
        by_domain = self.truth.by_domain
        by_domain[dkey] = by_domain.get(dkey, 0) + 1

    def render(self, events: Iterable[Event]) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self, lines: list[str]) -> list[str]:
        self.truth.lines += len(lines)
        return lines


def _render_iter(r: _Renderer, events: Iterable[Event], chunk: int = 4096) -> Iterator[str]:
    it = iter(events)
    while True:
        batch = list(islice(it, chunk))
        yield from r.render(batch)  # the first call writes a header even with no events
        if len(batch) < chunk:
            return
