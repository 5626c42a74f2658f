"""Postfix: each pool is a weighted ``randmap:{...}`` in a main.cf parameter.

Every pool member names its master.cf transport (``px5``); ``randmap`` picks one element at
random per lookup and has no weights, so a weight becomes a number of repetitions:
``randmap:{px5:,px5:,px6:}`` sends two thirds through px5. Each element is a
``transport:nexthop`` result with an empty nexthop, which ``postconf`` accepts for
``default_transport`` and ``postmap -q`` returns as is. Changes go through ``postconf -e``
then ``postfix reload``; each ``postconf -e`` carries its undo (the value read just before).

Provider suspensions and warmup quotas have no per-IP equivalent in Postfix: those plans
come back ``unsupported`` with the reason, never as a half measure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

from opsconsole.core.mta.apply import Runner
from opsconsole.core.mta.base import (
    ActualMember,
    JsonValue,
    MemberView,
    MtaState,
    Plan,
    PoolView,
    Quota,
    Run,
    Step,
    Suspension,
    in_pool,
)

MAX_REPEAT = 20
NO_SUSPEND = (
    "Postfix has no per-IP, per-provider suspension; remove the IP from its pool or use "
    "a transport_maps route for the provider's domains"
)
NO_QUOTA = "Postfix has no per-transport daily quota; warmup stays with pool weights"


@dataclass(frozen=True, slots=True)
class PostfixConfig:
    """``pool_parameters`` maps a pool name to the main.cf parameter that carries it."""

    pool_parameters: Mapping[str, str] = field(default_factory=dict)
    config_dir: str | None = None  # postconf -c DIR; None: the default /etc/postfix
    postconf: str = "postconf"
    reload_command: tuple[str, ...] = ("postfix", "reload")
    max_repeat: int = MAX_REPEAT
    timeout: float = 30.0


def repetitions(weights: Sequence[float], cap: int = MAX_REPEAT) -> list[int]:
    """Weights as whole repetitions: reduced by their GCD, scaled so none exceeds ``cap``,
    rounded proportionally, each at least 1 (a member in the pool always gets traffic)."""
    if not weights:
        return []
    ints = [max(1, round(w * 1000)) for w in weights]
    g = reduce(math.gcd, ints)
    reduced = [i // g for i in ints]
    top = max(reduced)
    if top > cap:
        reduced = [max(1, round(r * cap / top)) for r in reduced]
        g = reduce(math.gcd, reduced)
        reduced = [r // g for r in reduced]
    return reduced


def _element(member: MemberView) -> str:
    handle = member.transport or member.ip
    return handle if ":" in handle else f"{handle}:"


def render_randmap(pool: PoolView, cap: int = MAX_REPEAT) -> tuple[str, bool]:
    """The ``randmap:{...}`` value for ``pool`` and whether the empty-pool guard fired."""
    live, guard = in_pool(pool)
    reps = repetitions([w for _, w in live], cap)
    elements = [_element(m) for (m, _), n in zip(live, reps, strict=True) for _ in range(n)]
    return "randmap:{" + ",".join(elements) + "}", guard


def parse_randmap(value: str) -> list[ActualMember]:
    """Members with repetition counts from a parameter value (a randmap or one transport)."""
    text = value.strip()
    if text.startswith("randmap:{") and text.endswith("}"):
        parts = [p.strip() for p in text[len("randmap:{") : -1].replace(" ", ",").split(",")]
    elif text and "{" not in text and " " not in text:
        parts = [text]
    else:
        return []
    counts: dict[str, int] = {}
    for part in parts:
        if part:
            handle = part.split(":", 1)[0]
            counts[handle] = counts.get(handle, 0) + 1
    return [ActualMember(h, float(n)) for h, n in counts.items()]


class PostfixAdapter:
    kind = "postfix"

    def __init__(self, config: PostfixConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner

    def _postconf(self, *args: str) -> tuple[str, ...]:
        c = self.config
        return (c.postconf, *(("-c", c.config_dir) if c.config_dir else ()), *args)

    def plan_pools(
        self, pools: Sequence[PoolView], current: MtaState, quotas: Sequence[Quota] = ()
    ) -> Plan:
        steps: list[Step] = []
        guards: list[str] = []
        notes: list[str] = []
        for pool in pools:
            param = self.config.pool_parameters.get(pool.name)
            if param is None:
                notes.append(f"pool {pool.name} has no [mta.postfix] pool_parameters entry")
                continue
            if not pool.members:
                notes.append(f"pool {pool.name} has no members; {param} left unchanged")
                continue
            value, guard = render_randmap(pool, self.config.max_repeat)
            if guard:
                guards.append(pool.name)
            previous = current.raw.get(param)
            if previous == value:
                continue
            undo = self._postconf("-e", f"{param}={previous}") if previous is not None else None
            steps.append(Run(self._postconf("-e", f"{param}={value}"), undo, self.config.timeout))
        if steps:
            steps.append(Run(self.config.reload_command, None, self.config.timeout))
        if quotas:
            notes.append(NO_QUOTA)
        return Plan(tuple(steps), tuple(guards), tuple(notes))

    def plan_quotas(
        self, quotas: Sequence[Quota], pools: Sequence[PoolView], current: MtaState
    ) -> Plan:
        return Plan(unsupported=NO_QUOTA)

    def plan_suspend(self, s: Suspension, now: float) -> Plan:
        return Plan(unsupported=NO_SUSPEND)

    def plan_resume(
        self, ip: str, provider: str, domains: Sequence[str], current: MtaState
    ) -> Plan:
        return Plan(unsupported=NO_SUSPEND)

    async def _read(self, *args: str) -> tuple[str | None, str | None]:
        res = await self.runner.run(self._postconf(*args), self.config.timeout)
        if res.returncode != 0 or res.error:
            return None, f"{' '.join(self._postconf(*args))}: {res.error or res.output.strip()}"
        if "warning:" in res.output and "unknown parameter" in res.output:
            return None, res.output.strip()
        return res.output.rstrip("\n"), None

    async def read_state(self) -> MtaState:
        pools: dict[str, tuple[ActualMember, ...]] = {}
        raw: dict[str, str] = {}
        errors: list[str] = []
        for pool, param in self.config.pool_parameters.items():
            value, err = await self._read("-h", param)
            if value is None:
                errors.append(err or f"cannot read {param}")
                continue
            raw[param] = value
            members = parse_randmap(value)
            if members:
                pools[pool] = tuple(members)
            else:
                errors.append(f"{param} = {value!r} is not a randmap or a transport")
        return MtaState(pools, (), raw, True, tuple(errors))

    def owned(self) -> list[str]:
        return [f"main.cf:{p}" for p in self.config.pool_parameters.values()]

    async def capture_original(self) -> dict[str, JsonValue]:
        """Per parameter: its value and whether main.cf set it (``postconf -n``) or it was
        Postfix's default, so a release can put back exactly that."""
        out: dict[str, JsonValue] = {}
        for param in self.config.pool_parameters.values():
            explicit, _ = await self._read("-n", param)
            value, err = await self._read("-h", param)
            if value is None:
                raise RuntimeError(err or f"cannot read {param}")
            out[param] = {"value": value, "explicit": bool(explicit and explicit.strip())}
        return out

    def plan_release(self, original: Mapping[str, JsonValue]) -> Plan:
        steps: list[Step] = []
        for param, entry in original.items():
            if not isinstance(entry, dict):
                continue
            if entry.get("explicit"):
                steps.append(Run(self._postconf("-e", f"{param}={entry.get('value', '')}")))
            else:
                steps.append(Run(self._postconf("-X", param)))
        if steps:
            steps.append(Run(self.config.reload_command, None, self.config.timeout))
        return Plan(tuple(steps))
