"""The check's policy over any number of IPs (issue 18.9): chunks in address order.

``policy.evaluate`` over a million (ip, subuser) keys holds them all, with every
observation, at once. :class:`ChunkedPolicy` feeds it one chunk of IPs at a time (an IP's
keys never straddle chunks; the pool members and warmup plans of IPs with no traffic are
folded in at their place in address order) and keeps only what the check can use: the
actions, the changed members and plans, and the observations ``keep`` accepts (a breach,
or an open alert to update). The result equals ``policy.evaluate`` over everything with
the same filter: the same actions and observations in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opsconsole.core import policy
from opsconsole.core.alerts import WARMUP_OVER_QUOTA
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity, WindowStats
from opsconsole.core.warmup import PlanState

KeyRow = tuple[str, str, WindowStats]


class ChunkedPolicy:
    def __init__(
        self,
        members: Sequence[MemberState],
        plans: Sequence[PlanState],
        config: policy.PolicyConfig,
        now: float,
        keep: Callable[[policy.Observation], bool],
        *,
        stage_stats: Mapping[str, WindowStats] | None = None,
        today_sent: Mapping[str, int] | None = None,
    ) -> None:
        self.members = list(members)
        self.plans = list(plans)
        self.config, self.now, self.keep = config, now, keep
        self.stage_stats, self.today_sent = stage_stats, today_sent
        self.members_by_ip: dict[str, list[MemberState]] = {}
        for m in self.members:
            self.members_by_ip.setdefault(m.ip, []).append(m)
        self.plans_by_ip: dict[str, list[PlanState]] = {}
        for p in self.plans:
            self.plans_by_ip.setdefault(p.ip, []).append(p)
        self.managed = sorted(ip for ip in set(self.members_by_ip) | set(self.plans_by_ip) if ip)
        self.pos = 0
        self.actions: list[Any] = []
        self.first: list[policy.Observation] = []  # warmup readings (evaluate's first loop)
        self.second: list[policy.Observation] = []  # key readings (its second loop)
        self.new_members: dict[int, MemberState] = {}  # id(old) -> new
        self.new_plans: dict[int, PlanState] = {}
        self.severities: dict[str, Severity] = {}
        self.last = ""

    def _run(self, key_stats: Mapping[tuple[str, str], WindowStats], ips: Iterable[str]) -> None:
        mine = sorted(set(ips))
        ms = [m for ip in mine for m in self.members_by_ip.get(ip, ())]
        ps = [p for ip in mine for p in self.plans_by_ip.get(ip, ())]
        d = policy.evaluate(
            key_stats, ms, ps, self.config, self.now,
            stage_stats=self.stage_stats, today_sent=self.today_sent,
        )  # fmt: skip
        self.actions.extend(d.actions)
        for o in d.observations:
            if self.keep(o):
                (self.first if o.rule == WARMUP_OVER_QUOTA else self.second).append(o)
        for new, old in zip(d.members, ms, strict=True):
            if new is not old:
                self.new_members[id(old)] = new
        for newp, oldp in zip(d.plans, ps, strict=True):
            if newp is not oldp:
                self.new_plans[id(oldp)] = newp
        for ip, sev in d.severities.items():
            if sev >= Severity.WARNING:
                self.severities[ip] = sev

    def _managed_upto(self, upto: str | None) -> list[str]:
        out = []
        while self.pos < len(self.managed) and (upto is None or self.managed[self.pos] <= upto):
            out.append(self.managed[self.pos])
            self.pos += 1
        return out

    def feed(self, rows: Sequence[KeyRow]) -> None:
        """One chunk: keys in address order, after every key fed before."""
        if not rows:
            return
        key_stats = {(ip, sub): st for ip, sub, st in rows}
        upto = rows[-1][0]
        self._run(key_stats, [ip for ip, _, _ in rows if ip] + self._managed_upto(upto))

    def finish(self) -> policy.Decision:
        rest = self._managed_upto(None)
        if rest:
            self._run({}, rest)
        return policy.Decision(
            actions=tuple(self.actions),
            observations=(*self.first, *self.second),
            plans=tuple(self.new_plans.get(id(p), p) for p in self.plans),
            members=tuple(self.new_members.get(id(m), m) for m in self.members),
            severities=self.severities,
        )
