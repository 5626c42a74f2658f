"""Seeded traffic simulator: a scenario of sending IPs, events, and real-looking MTA lines.

Three layers, all pure (no SQL, no Textual, no wall clock: time is always a parameter):

- :class:`Scenario` describes the sending side: rotation pools of production IPs, warming
  IPs, and how each IP behaves (one goes bad, one sits at warning, one at critical), plus the
  names each MTA gives an IP (PowerMTA vmta, Postfix syslog name, KumoMTA egress source), so a
  demo can build the matching config with :meth:`Scenario.config_dict`.
- :func:`generate_events` draws a deterministic, time-ordered stream of :class:`Event` s.
- Renderers turn events into the lines each MTA really writes (see ``domain/formats.md`` and
  the samples): :func:`render_pmta`, :func:`render_postfix`, :func:`render_kumo`,
  :func:`render_jsonl`. :func:`write_file` streams them to disk and returns the
  :class:`Truth`: exactly what was written, per IP, as a correct parser must count it.

:class:`LiveFeed` produces the same lines incrementally for ``--demo``, following a short story
(the bad IP worsens over the first minute and a half; the critical IP recovers at ~100 s), so
alerts open and resolve within a couple of minutes.

Speed: timestamps are formatted once per second (events are time-ordered), response texts
and per-IP strings are built once per scenario, and lines are written in chunks.

Modules: :mod:`.scenario` (IPs, domains, the scenario), :mod:`.texts` (response texts),
:mod:`.model` (the event model), :mod:`.truth`, :mod:`.render_base` (what renderers share),
:mod:`.render_pmta`, :mod:`.render_postfix`, :mod:`.render_kumo_jsonl`, :mod:`.render`
(format dispatch, :func:`write_file`) and :mod:`.live`.
"""

from __future__ import annotations

from opsconsole.core.sources import FORMATS
from opsconsole.core.sources.pmta import PMTA_COMMON_HEADER, PMTA_HEADER
from opsconsole.simulator.live import DEMO_MONITOR, LiveFeed
from opsconsole.simulator.model import generate_events
from opsconsole.simulator.render import write_file
from opsconsole.simulator.render_kumo_jsonl import render_jsonl, render_kumo
from opsconsole.simulator.render_pmta import render_pmta
from opsconsole.simulator.render_postfix import render_postfix
from opsconsole.simulator.scenario import DEFAULT_DOMAINS, Domain, IpProfile, Scenario
from opsconsole.simulator.truth import Counts, Truth

__all__ = [
    "DEFAULT_DOMAINS",
    "DEMO_MONITOR",
    "FORMATS",
    "PMTA_COMMON_HEADER",
    "PMTA_HEADER",
    "Counts",
    "Domain",
    "IpProfile",
    "LiveFeed",
    "Scenario",
    "Truth",
    "generate_events",
    "render_jsonl",
    "render_kumo",
    "render_pmta",
    "render_postfix",
    "write_file",
]
