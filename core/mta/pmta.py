"""PowerMTA: pools rendered into one included config file, suspensions through ``pmta``.

The managed file (include it from /etc/pmta/config) holds a ``<virtual-mta-pool NAME>``
block per pool listing each member's ``virtual-mta``; removed members are absent. A pool
picks its virtual MTAs round-robin and has no weights, so a deprioritized member keeps an
equal share (the plan says so in its notes); only removal takes it out. Warmup quotas are a
``max-msg-rate N/h`` in a ``<domain *>`` block inside the member's ``<virtual-mta>``, which
means that virtual MTA must be defined in this file: list it in ``own_vmtas`` (vmta -> EHLO
hostname) and remove its definition from the main config.

Provider suspensions: one ``pmta disable source --reenable-after=INTERVAL IP DOMAIN`` per
domain, undone by ``pmta enable source IP DOMAIN``; PowerMTA lifts them itself on expiry.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opsconsole.core.mta.apply import Runner
from opsconsole.core.mta.base import (
    ActualMember,
    ActualSuspension,
    JsonValue,
    MtaState,
    Plan,
    PoolView,
    Quota,
    RemoveFile,
    Run,
    Step,
    Suspension,
    WriteFile,
    in_pool,
)

HEADER = "# Managed by opsconsole: rotation pools and warmup rates. Edits are overwritten.\n"
_POOL_OPEN = re.compile(r"^\s*<virtual-mta-pool\s+([^\s>]+)\s*>\s*$", re.IGNORECASE)
_POOL_CLOSE = re.compile(r"^\s*</virtual-mta-pool\s*>\s*$", re.IGNORECASE)
_MEMBER = re.compile(r"^\s*virtual-mta\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PmtaConfig:
    pools_file: str = "/etc/pmta/opsconsole-pools.conf"
    pmta: str = "pmta"
    reload_command: tuple[str, ...] | None = None  # default: (pmta, "reload")
    own_vmtas: Mapping[str, str] = field(default_factory=dict)  # vmta -> EHLO hostname
    timeout: float = 30.0
    # the argv prefix of disable/enable/show source commands (e.g. sudo -n pmta); default: pmta
    command: tuple[str, ...] | None = None

    def reload(self) -> tuple[str, ...]:
        return self.reload_command or (self.pmta, "reload")

    def cli(self, *args: str) -> tuple[str, ...]:
        return (*(self.command or (self.pmta,)), *args)


def interval(seconds: float) -> str:
    """A PowerMTA time interval, rounded up to whole minutes: ``2h``, ``90m``."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def render(pools: Sequence[PoolView], quotas: Sequence[Quota], config: PmtaConfig) -> Plan:
    """The managed file as one ``WriteFile`` (no reload), with guards and notes."""
    rate = {q.ip: q.hourly() for q in quotas}
    lines = [HEADER]
    guards: list[str] = []
    notes: list[str] = []
    defined: set[str] = set()
    pool_blocks: list[str] = []
    for pool in pools:
        live, guard = in_pool(pool)
        if guard:
            guards.append(pool.name)
        block = [f"<virtual-mta-pool {pool.name}>\n"]
        for member, _w in live:
            if member.vmta is None:
                notes.append(f"{member.ip} in pool {pool.name} has no vmta; left out")
                continue
            block.append(f"    virtual-mta {member.vmta}\n")
            if member.state == "deprioritized":
                notes.append(
                    f"{member.vmta}: PowerMTA pools are round-robin without weights; "
                    "a deprioritized member keeps an equal share"
                )
        block.append("</virtual-mta-pool>\n")
        pool_blocks.append("".join(block))
        for member in pool.members:
            vmta = member.vmta
            if vmta is None or vmta in defined:
                continue
            if vmta in config.own_vmtas:
                defined.add(vmta)
                lines.append(f"<virtual-mta {vmta}>\n")
                lines.append(f"    smtp-source-host {member.ip} {config.own_vmtas[vmta]}\n")
                if member.ip in rate:
                    lines.append("    <domain *>\n")
                    lines.append(f"        max-msg-rate {rate[member.ip]}/h\n")
                    lines.append("    </domain>\n")
                lines.append("</virtual-mta>\n\n")
            elif member.ip in rate:
                notes.append(f"quota for {member.ip} needs {vmta} in own_vmtas; not applied")
    lines.append("\n".join(pool_blocks))
    content = "".join(lines)
    return Plan((WriteFile(config.pools_file, content),), tuple(guards), tuple(notes))


def parse_pools(text: str) -> dict[str, tuple[ActualMember, ...]]:
    pools: dict[str, tuple[ActualMember, ...]] = {}
    current: str | None = None
    members: list[ActualMember] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if m := _POOL_OPEN.match(line):
            current, members = m.group(1), []
        elif current is not None and _POOL_CLOSE.match(line):
            pools[current] = tuple(members)
            current = None
        elif current is not None and (m := _MEMBER.match(line)):
            members.append(ActualMember(m.group(1), 1.0))
    return pools


def parse_disabled(output: str) -> list[ActualSuspension]:
    """``pmta show disabled sources``: any line with an IP followed by a domain[/vmta]."""
    found: list[ActualSuspension] = []
    for line in output.splitlines():
        tokens = line.split()
        for i, tok in enumerate(tokens[:-1]):
            try:
                ipaddress.ip_address(tok)
            except ValueError:
                continue
            found.append(ActualSuspension(tok, tokens[i + 1]))
            break
    return found


class PmtaAdapter:
    kind = "pmta"

    def __init__(self, config: PmtaConfig, runner: Runner) -> None:
        self.config = config
        self.runner = runner

    def _with_reload(self, plan: Plan, current: MtaState) -> Plan:
        write = plan.steps[0]
        if isinstance(write, WriteFile) and current.raw.get(write.path) == write.content:
            return Plan((), plan.empty_pool_guard, plan.notes)
        reload = Run(self.config.reload(), None, self.config.timeout)
        return Plan((*plan.steps, reload), plan.empty_pool_guard, plan.notes)

    def plan_pools(
        self, pools: Sequence[PoolView], current: MtaState, quotas: Sequence[Quota] = ()
    ) -> Plan:
        return self._with_reload(render(pools, quotas, self.config), current)

    def plan_quotas(
        self, quotas: Sequence[Quota], pools: Sequence[PoolView], current: MtaState
    ) -> Plan:
        return self.plan_pools(pools, current, quotas)

    def plan_suspend(self, s: Suspension, now: float) -> Plan:
        if not s.domains:
            return Plan(unsupported=f"provider {s.provider} has no domains to disable")
        if s.until <= now:
            return Plan(notes=(f"suspension of {s.ip} at {s.provider} already expired",))
        every = f"--reenable-after={interval(s.until - now)}"
        cli = self.config.cli
        steps: list[Step] = [
            Run(
                cli("disable", "source", every, s.ip, d),
                cli("enable", "source", s.ip, d),
                self.config.timeout,
            )
            for d in s.domains
        ]
        return Plan(tuple(steps))

    def plan_resume(
        self, ip: str, provider: str, domains: Sequence[str], current: MtaState
    ) -> Plan:
        cli = self.config.cli
        return Plan(
            tuple(Run(cli("enable", "source", ip, d), None, self.config.timeout) for d in domains)
        )

    async def read_state(self) -> MtaState:
        errors: list[str] = []
        raw: dict[str, str] = {}
        pools: dict[str, tuple[ActualMember, ...]] = {}
        try:
            text = Path(self.config.pools_file).read_text(encoding="utf-8")
            raw[self.config.pools_file] = text
            pools = parse_pools(text)
        except OSError as e:
            errors.append(f"{self.config.pools_file}: {e.strerror}")
        res = await self.runner.run(
            self.config.cli("show", "disabled", "sources"), self.config.timeout
        )
        suspended: list[ActualSuspension] = []
        if res.returncode == 0 and res.error is None:
            suspended = parse_disabled(res.output)
        else:
            errors.append(f"pmta show disabled sources: {res.error or res.output.strip()}")
        return MtaState(pools, tuple(suspended), raw, False, tuple(errors))

    def owned(self) -> list[str]:
        return [self.config.pools_file]

    async def capture_original(self) -> dict[str, JsonValue]:
        try:
            text: str | None = Path(self.config.pools_file).read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        return {self.config.pools_file: text}

    def plan_release(self, original: Mapping[str, JsonValue]) -> Plan:
        steps: list[Step] = []
        for path, text in original.items():
            steps.append(WriteFile(path, text) if isinstance(text, str) else RemoveFile(path))
        steps.append(Run(self.config.reload(), None, self.config.timeout))
        return Plan(tuple(steps))
