"""The live feed behind ``--demo``: new lines since the last call, following a story."""

from __future__ import annotations

import random
from typing import Any

from opsconsole.core.events import Event
from opsconsole.simulator.model import _Model
from opsconsole.simulator.render import _renderer
from opsconsole.simulator.render_base import _Renderer
from opsconsole.simulator.scenario import Scenario
from opsconsole.simulator.truth import Truth

# Story of the live feed, in seconds since its start.
LIVE_RAMP: tuple[float, float] = (10.0, 90.0)  # the bad IP's blocks climb over this span
LIVE_RECOVER_AT = 100.0  # the recovering IP's blocks stop here

# Engine settings that make the live story visible within a minute and steady for ten:
# frequent checks; a rolling 10-minute window (a 1-minute one emptied at every minute
# boundary: "0.00% ... 5 sent"); a sample of 100 before anything is judged, so one
# complaint in 11 sends removes nothing. A suggestion for the demo's config, not used here.
DEMO_MONITOR: dict[str, Any] = {
    "check_interval": "5s",
    "window": "10m",
    "min_sample": 100,
    "recover_checks": 3,
}


class LiveFeed:
    """Lines for ``--demo``: new traffic since the last call, at ``rate_per_s``.

    The story, in seconds since ``start`` (default: the first call's ``now``): the bad IP's
    blocks climb over :data:`LIVE_RAMP` to ~20% bounces; the recovering (critical) IP drops
    to healthy at :data:`LIVE_RECOVER_AT`. Deterministic given the sequence of ``now``
    values. A gap longer than ``max_gap`` (a suspended laptop) is not back-filled beyond
    ``max_gap`` seconds.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        seed: int = 1,
        rate_per_s: float = 50.0,
        *,
        start: float | None = None,
        ramp: tuple[float, float] = LIVE_RAMP,
        recover_at: float = LIVE_RECOVER_AT,
        max_gap: float = 60.0,
        postfix_style: str = "classic",
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.scenario = scenario or Scenario.default()
        self.seed = seed
        self.rate = float(rate_per_s)
        self.start = start
        self.ramp = ramp
        self.recover_at = recover_at
        self.max_gap = max_gap
        self.postfix_style = postfix_style
        self._model = _Model(self.scenario)
        self._rng = random.Random(seed)
        self._last: float | None = start
        self._due = 0  # events owed since start, emitted or skipped
        self._renderers: dict[str, _Renderer] = {}

    def elapsed(self, now: float) -> float:
        return 0.0 if self.start is None else now - self.start

    def bounce_rate(self, ip: str, elapsed: float) -> float:
        """The model's bounce rate of ``ip`` at ``elapsed`` seconds into the story."""
        p = self.scenario.profile(ip)
        return p.list_bounce + p.block_at_live(elapsed, self.ramp, self.recover_at)

    def events_until(self, now: float) -> list[Event]:
        """The events in (last call, now]."""
        if self.start is None:
            self.start = now
        if self._last is None:
            self._last = self.start
        if now <= self._last:
            return []
        due = int((now - self.start) * self.rate)
        k = due - self._due
        self._due = due
        lo = self._last
        self._last = now
        if k <= 0:
            return []
        if now - lo > self.max_gap:
            lo = now - self.max_gap
            k = min(k, int(self.max_gap * self.rate))
        mid = (lo + now) / 2 - self.start
        blocks = [p.block_at_live(mid, self.ramp, self.recover_at) for p in self._model.profiles]
        thr = self._model.thresholds(blocks)
        rnd = self._rng.random
        step = (now - lo) / k
        stamps = [lo + (i + rnd()) * step for i in range(k)]
        return self._model.draw(self._rng, stamps, thr)

    def renderer(self, fmt: str) -> _Renderer:
        r = self._renderers.get(fmt)
        if r is None:
            opts: dict[str, Any] = {}
            if fmt == "postfix":
                opts["style"] = self.postfix_style
            r = self._renderers[fmt] = _renderer(fmt, self.scenario, self.seed, None, **opts)
        return r

    def lines_until(self, fmt: str, now: float) -> list[str]:
        """New lines of ``fmt`` (without newlines) for the traffic in (last call, now].
        The first pmta call starts with the header line."""
        r = self.renderer(fmt)
        return r.render(self.events_until(now))

    def truth(self, fmt: str) -> Truth:
        """What the lines of ``fmt`` handed out so far hold."""
        return self.renderer(fmt).truth
