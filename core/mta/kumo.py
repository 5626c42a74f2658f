"""KumoMTA: pool weights in the sources file, suspensions through kumod's admin API.

The sources file has the shape the ``policy-extras.sources`` helper reads:
``[source."NAME"]`` with ``source_address`` (and ``ehlo_domain`` when configured), and
``[pool."POOL"."NAME"]`` with an integer ``weight``. kumod reloads policy files when they
change, so a write is the whole change (atomic, by :mod:`apply`). Removed members are left
out of their pool (documented as equivalent to weight 0) but keep their ``[source]``.

Warmup quotas go to a shaping file (list it in the shaping helper's ``extra_files``):
``["default".sources."NAME"]`` with ``additional_source_selection_rates`` holding a daily and
an hourly throttle, so the cap holds across every destination site.

A provider suspension suspends the ready queue ``SOURCE->SITE@smtp_client`` with
``POST /api/admin/suspend-ready-q/v1 {name, reason, expires}``; the answer's ``id`` is what
``DELETE`` (same path, ``{id}``) needs, and ``GET`` lists what is active.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

from opsconsole.core.mta.apply import Runner
from opsconsole.core.mta.base import (
    ActualMember,
    ActualSuspension,
    Http,
    JsonValue,
    MemberView,
    MtaState,
    Plan,
    PoolView,
    Quota,
    RemoveFile,
    Step,
    Suspension,
    WriteFile,
    in_pool,
)

HEADER = "# Managed by opsconsole. Edits are overwritten.\n"
SUSPEND_PATH = "/api/admin/suspend-ready-q/v1"


@dataclass(frozen=True, slots=True)
class KumoConfig:
    sources_file: str = "/opt/kumomta/etc/policy/opsconsole-sources.toml"
    shaping_file: str = "/opt/kumomta/etc/policy/opsconsole-shaping.toml"
    base_url: str = "http://127.0.0.1:8000"
    provider_sites: Mapping[str, str] = field(default_factory=dict)  # provider -> site
    sources: Mapping[str, str] = field(default_factory=dict)  # ip -> egress source name
    ehlo_domains: Mapping[str, str] = field(default_factory=dict)  # source -> EHLO name
    reason_prefix: str = "opsconsole: "


def _q(text: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def int_weights(weights: Sequence[float]) -> list[int]:
    """Integer weights in the same ratios, reduced by their GCD; every entry at least 1."""
    if not weights:
        return []
    ints = [max(1, round(w * 1000)) for w in weights]
    g = reduce(math.gcd, ints)
    return [i // g for i in ints]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KumoAdapter:
    kind = "kumo"

    def __init__(self, config: KumoConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner

    def _source(self, member: MemberView) -> str:
        return member.source or self.config.sources.get(member.ip) or member.ip

    def render_sources(self, pools: Sequence[PoolView]) -> tuple[str, list[str]]:
        out = [HEADER]
        guards: list[str] = []
        seen: set[str] = set()
        for pool in pools:
            for m in pool.members:
                name = self._source(m)
                if name in seen:
                    continue
                seen.add(name)
                out.append(f"\n[source.{_q(name)}]\nsource_address = {_q(m.ip)}\n")
                if name in self.config.ehlo_domains:
                    out.append(f"ehlo_domain = {_q(self.config.ehlo_domains[name])}\n")
        for pool in pools:
            live, guard = in_pool(pool)
            if guard:
                guards.append(pool.name)
            out.append(f"\n[pool.{_q(pool.name)}]\n")
            weights = int_weights([w for _, w in live])
            for (m, _), w in zip(live, weights, strict=True):
                out.append(f"\n[pool.{_q(pool.name)}.{_q(self._source(m))}]\nweight = {w}\n")
        return "".join(out), guards

    def render_shaping(self, quotas: Sequence[Quota]) -> str:
        out = [HEADER]
        for q in sorted(quotas, key=lambda q: q.ip):
            name = self.config.sources.get(q.ip, q.ip)
            day = _q(f"opsconsole-day-{name}")
            hour = _q(f"opsconsole-hour-{name}")
            out.append(
                f'\n["default".sources.{_q(name)}]\nadditional_source_selection_rates = '
                f'{{ {day} = "{q.per_day}/day,max_burst=1", '
                f'{hour} = "{q.hourly()}/hour,max_burst=1" }}\n'
            )
        return "".join(out)

    def plan_pools(
        self, pools: Sequence[PoolView], current: MtaState, quotas: Sequence[Quota] = ()
    ) -> Plan:
        """Both managed files from the complete desired state (pass every quota in force)."""
        sources, guards = self.render_sources(pools)
        shaping = self.render_shaping(quotas)
        steps: list[Step] = []
        for path, content in (
            (self.config.sources_file, sources),
            (self.config.shaping_file, shaping),
        ):
            if current.raw.get(path) != content:
                steps.append(WriteFile(path, content))
        return Plan(tuple(steps), tuple(guards))

    def plan_quotas(
        self, quotas: Sequence[Quota], pools: Sequence[PoolView], current: MtaState
    ) -> Plan:
        return self.plan_pools(pools, current, quotas)

    def _queue(self, ip: str, provider: str) -> str | None:
        site = self.config.provider_sites.get(provider)
        if site is None:
            return None
        return f"{self.config.sources.get(ip, ip)}->{site}@smtp_client"

    def plan_suspend(self, s: Suspension, now: float) -> Plan:
        name = self._queue(s.ip, s.provider)
        if name is None:
            return Plan(unsupported=f"no [mta.kumo] provider_sites entry for {s.provider}")
        if s.until <= now:
            return Plan(notes=(f"suspension of {s.ip} at {s.provider} already expired",))
        url = self.config.base_url.rstrip("/") + SUSPEND_PATH
        body: JsonValue = {
            "name": name,
            "reason": self.config.reason_prefix + s.reason,
            "expires": iso(s.until),
        }
        undo = Http("DELETE", url, {})
        return Plan((Http("POST", url, body, undo, rollback_takes_id=True),))

    def plan_resume(
        self, ip: str, provider: str, domains: Sequence[str], current: MtaState
    ) -> Plan:
        name = self._queue(ip, provider)
        if name is None:
            return Plan(unsupported=f"no [mta.kumo] provider_sites entry for {provider}")
        url = self.config.base_url.rstrip("/") + SUSPEND_PATH
        source, site = name.removesuffix("@smtp_client").split("->", 1)
        ids = [s.id for s in current.suspensions if s.target == source and s.where == site and s.id]
        if not ids:
            return Plan(notes=(f"no active suspension for {name}",))
        return Plan(tuple(Http("DELETE", url, {"id": i}) for i in ids))

    async def read_state(self) -> MtaState:
        errors: list[str] = []
        raw: dict[str, str] = {}
        pools: dict[str, tuple[ActualMember, ...]] = {}
        for path in (self.config.sources_file, self.config.shaping_file):
            try:
                raw[path] = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror}")
        if self.config.sources_file in raw:
            try:
                doc = tomllib.loads(raw[self.config.sources_file])
            except tomllib.TOMLDecodeError as exc:
                doc = {}
                errors.append(f"{self.config.sources_file}: {exc}")
            addresses = {n: s.get("source_address") for n, s in doc.get("source", {}).items()}
            for pool, entries in doc.get("pool", {}).items():
                pools[pool] = tuple(
                    ActualMember(n, float(e.get("weight", 1)), addresses.get(n))
                    for n, e in entries.items()
                    if isinstance(e, dict)
                )
        res = await self.runner.request(
            "GET", self.config.base_url.rstrip("/") + SUSPEND_PATH, None
        )
        suspended: list[ActualSuspension] = []
        if res.status == 200:
            listed = res.body if isinstance(res.body, list) else [res.body]
            for e in listed:
                if isinstance(e, dict) and isinstance(e.get("name"), str):
                    name = str(e["name"]).removesuffix("@smtp_client")
                    source, _, site = name.partition("->")
                    suspended.append(
                        ActualSuspension(
                            source,
                            site,
                            str(e.get("id") or ""),
                            str(e.get("expires") or ""),
                            str(e.get("reason") or ""),
                        )
                    )
        else:
            errors.append(f"GET {SUSPEND_PATH}: {res.error or res.status}")
        return MtaState(pools, tuple(suspended), raw, True, tuple(errors))

    def owned(self) -> list[str]:
        return [self.config.sources_file, self.config.shaping_file]

    async def capture_original(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {}
        for path in self.owned():
            try:
                out[path] = Path(path).read_text(encoding="utf-8")
            except FileNotFoundError:
                out[path] = None
        return out

    def plan_release(self, original: Mapping[str, JsonValue]) -> Plan:
        steps: list[Step] = [
            WriteFile(p, t) if isinstance(t, str) else RemoveFile(p) for p, t in original.items()
        ]
        return Plan(tuple(steps), notes=("suspensions expire on their own; none are lifted",))
