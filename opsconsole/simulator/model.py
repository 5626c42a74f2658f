"""The event model: a scenario compiled into tables, and :func:`generate_events`."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence

from opsconsole.core.events import Event, Kind
from opsconsole.simulator.scenario import Scenario
from opsconsole.simulator.texts import _HARD_TYPES, _TEXTS, _TYPES, _enhanced

Thr = tuple[float, float, float, float]


class _Model:
    """A scenario compiled into lookup tables for the draw loop."""

    IP_SLOTS = 4096
    DOM_SLOTS = 1024

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.profiles = scenario.ips
        self.ips = [p.ip for p in scenario.ips]
        self.tenants = [p.tenants or (None,) for p in scenario.ips]
        self.ip_table = _slots([p.share for p in scenario.ips], self.IP_SLOTS)
        self.domains = [d.name for d in scenario.domains]
        self.dom_table = _slots([d.weight for d in scenario.domains], self.DOM_SLOTS)
        # responses[ip][domain][type] -> (status, diag, hard)
        from opsconsole.core.providers import ProviderTable

        table = ProviderTable()
        self.dom_providers = [table.provider_of(d.name) for d in scenario.domains]
        self.responses: list[list[dict[str, tuple[str, str, bool]]]] = []
        for p in scenario.ips:
            per_dom = []
            for d in scenario.domains:
                texts = _TEXTS.get(d.family, _TEXTS["generic"])
                per_type = {}
                for t in _TYPES:
                    diag = texts[t].replace("{ip}", p.ip)
                    per_type[t] = (_enhanced(diag), diag, t in _HARD_TYPES)
                per_dom.append(per_type)
            self.responses.append(per_dom)

    def thresholds(self, blocks: Sequence[float]) -> list[list[Thr]]:
        """Cumulative outcome thresholds per IP and domain: block, +list bounce, +deferral,
        +complaint. An IP's ``provider_block`` replaces its block rate at that provider."""
        out = []
        for p, ip_block in zip(self.profiles, blocks, strict=True):
            at = dict(p.provider_block)
            per_dom: list[Thr] = []
            cache: dict[float, Thr] = {}
            for prov in self.dom_providers:
                block = at.get(prov, ip_block)
                t = cache.get(block)
                if t is None:
                    # Deferrals climb with the IP's own block, not a provider's override.
                    deferral = p.deferral + 0.3 * max(0.0, ip_block - p.block_start)
                    a = block
                    b = a + p.list_bounce
                    c = b + deferral
                    t = cache[block] = (a, b, c, c + p.complaint)
                per_dom.append(t)
            out.append(per_dom)
        return out

    def batch_thresholds(self, x: float) -> list[list[Thr]]:
        return self.thresholds([p.block_at_batch(x) for p in self.profiles])

    def draw(
        self,
        rng: random.Random,
        stamps: Iterable[float],
        thr: Sequence[Sequence[Thr]],
    ) -> list[Event]:
        rnd = rng.random
        ip_table = self.ip_table
        ip_slots = len(ip_table)
        dom_table = self.dom_table
        dom_slots = len(dom_table)
        ips = self.ips
        tenants = self.tenants
        domains = self.domains
        responses = self.responses
        delivered, bounced, deferred, complained = (
            Kind.DELIVERED,
            Kind.BOUNCED,
            Kind.DEFERRED,
            Kind.COMPLAINED,
        )
        out: list[Event] = []
        append = out.append
        for ts in stamps:
            k = ip_table[int(rnd() * ip_slots)]
            d = dom_table[int(rnd() * dom_slots)]
            ten = tenants[k]
            sub = ten[int(rnd() * len(ten))]
            r = rnd()
            t_block, t_list, t_defer, t_compl = thr[k][d]
            if r >= t_compl:
                append(Event(ts, delivered, ips[k], sub, False, domains[d]))
                continue
            if r < t_block:
                typ = "spam" if rnd() < 0.8 else "policy"
                kind = bounced
            elif r < t_list:
                u = rnd()
                typ = "hard" if u < 0.75 else ("inactive" if u < 0.8 else "quota")
                kind = bounced
            elif r < t_defer:
                typ = "defer_rate" if rnd() < 0.7 else "defer_quota"
                kind = deferred
            else:
                append(Event(ts, complained, ips[k], sub, False, domains[d]))
                continue
            status, diag, hard = responses[k][d][typ]
            append(Event(ts, kind, ips[k], sub, hard, domains[d], status, diag))
        return out


def _slots(weights: Sequence[float], n: int) -> list[int]:
    """A table of ``n`` indexes in which index i appears in proportion to ``weights[i]``."""
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must not all be zero")
    table: list[int] = []
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        upto = round(acc / total * n)
        table.extend([i] * (upto - len(table)))
    return table


def generate_events(
    scenario: Scenario | None, n: int, start_ts: float, end_ts: float, seed: int = 1
) -> Iterator[Event]:
    """``n`` events between ``start_ts`` and ``end_ts``, time-ordered, deterministic per seed.

    Event ``i`` falls in the i-th of ``n`` equal slices of the span (so the order holds and
    the rate is even). The bad IP degrades over :data:`BATCH_RAMP` of the span and stays bad.
    ``subuser`` is the tenant (the KumoMTA ``meta.tenant``).
    """
    if n < 0:
        raise ValueError("n must not be negative")
    if end_ts < start_ts:
        raise ValueError("end_ts is before start_ts")
    model = _Model(scenario or Scenario.default())
    rng = random.Random(seed)
    rnd = rng.random
    step = (end_ts - start_ts) / n if n else 0.0
    chunk = 2048
    for base in range(0, n, chunk):
        stop = min(base + chunk, n)
        thr = model.batch_thresholds((base + stop) / 2 / n)
        stamps = [start_ts + (i + rnd()) * step for i in range(base, stop)]
        yield from model.draw(rng, stamps, thr)
