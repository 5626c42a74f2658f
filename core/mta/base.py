"""Value types shared by every MTA adapter: desired state in, plan steps out, real state back.

Adapters never touch the MTA while planning: a plan is plain data, so ``--dry-run`` prints
exactly what ``apply`` would do (``Step.describe()``), and the audit log records the same
lines. Everything here is pure and frozen.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]

# ------------------------------------------------------------------------------ desired state


@dataclass(frozen=True, slots=True)
class MemberView:
    """One pool member as the engine wants it. ``transport``/``vmta``/``source`` name the IP's
    handle in Postfix master.cf, PowerMTA and KumoMTA; each adapter reads its own."""

    ip: str
    weight: float
    state: str = "active"  # active | deprioritized | removed | warming
    transport: str | None = None
    vmta: str | None = None
    source: str | None = None
    base_weight: float | None = None  # for the empty-pool guard; defaults to weight

    def handle(self) -> str:
        return self.transport or self.vmta or self.source or self.ip


@dataclass(frozen=True, slots=True)
class PoolView:
    name: str
    members: tuple[MemberView, ...]


@dataclass(frozen=True, slots=True)
class Suspension:
    """Stop ``ip`` sending to ``provider`` (its ``domains``) until ``until`` (epoch seconds)."""

    ip: str
    provider: str
    domains: tuple[str, ...]
    until: float
    reason: str


@dataclass(frozen=True, slots=True)
class Quota:
    """A warmup quota: ``per_day`` messages; ``per_hour`` defaults to ceil(per_day / 24)."""

    ip: str
    per_day: int
    per_hour: int | None = None

    def hourly(self) -> int:
        return self.per_hour if self.per_hour is not None else max(1, math.ceil(self.per_day / 24))


def in_pool(pool: PoolView) -> tuple[list[tuple[MemberView, float]], bool]:
    """The members that carry traffic with their weight, and whether the empty-pool guard fired.

    Removed members and members at weight <= 0 are absent. If nothing is left, the member with
    the highest base weight stays in at that weight (``True``): an MTA must never be handed an
    empty pool, and the engine alerts critically instead.
    """
    live = [(m, m.weight) for m in pool.members if m.state != "removed" and m.weight > 0]
    if live or not pool.members:
        return live, False
    keep = max(pool.members, key=lambda m: m.base_weight if m.base_weight is not None else 0.0)
    base = keep.base_weight if keep.base_weight else 1.0
    return [(keep, base)], True


# ------------------------------------------------------------------------------------ steps


def _json(body: JsonValue) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Replace ``path`` atomically; on rollback the previous content comes back."""

    path: str
    content: str
    mode: int = 0o644

    def describe(self) -> str:
        data = self.content.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()[:12]
        return f"write {self.path} ({len(data)} bytes, mode {self.mode:04o}, sha256 {digest})"


@dataclass(frozen=True, slots=True)
class RemoveFile:
    """Remove ``path`` (release of a file that did not exist before us)."""

    path: str

    def describe(self) -> str:
        return f"remove {self.path}"


@dataclass(frozen=True, slots=True)
class Run:
    """Run an argv (never a shell). ``rollback`` is run if a later step fails."""

    argv: tuple[str, ...]
    rollback: tuple[str, ...] | None = None
    timeout: float = 30.0

    def describe(self) -> str:
        text = f"run {shlex.join(self.argv)}"
        return f"{text} (undo: {shlex.join(self.rollback)})" if self.rollback else text


@dataclass(frozen=True, slots=True)
class Http:
    """One HTTP call. ``rollback`` is sent if a later step fails; with ``rollback_takes_id``
    the ``id`` field of this call's JSON response is added to the rollback's body."""

    method: str
    url: str
    json_body: JsonValue = None
    rollback: Http | None = None
    rollback_takes_id: bool = False

    def describe(self) -> str:
        body = "" if self.json_body is None else " " + _json(self.json_body)
        text = f"http {self.method} {self.url}{body}"
        if self.rollback is not None:
            undo = self.rollback.describe().removeprefix("http ")
            text += f" (undo: {undo}{' +id' if self.rollback_takes_id else ''})"
        return text


Step = WriteFile | RemoveFile | Run | Http


@dataclass(frozen=True, slots=True)
class Plan:
    """What an adapter would do. ``empty_pool_guard`` names pools kept alive by their last
    member (alert critically); ``unsupported`` says why nothing can be done on this MTA;
    ``notes`` are limits of the MTA worth showing next to the dry-run."""

    steps: tuple[Step, ...] = ()
    empty_pool_guard: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    unsupported: str | None = None

    def describe(self) -> list[str]:
        lines = [s.describe() for s in self.steps]
        lines += [
            f"guard: pool {p} has no active member; kept its last one"
            for p in self.empty_pool_guard
        ]
        lines += [f"note: {n}" for n in self.notes]
        if self.unsupported:
            lines.append(f"unsupported: {self.unsupported}")
        return lines


# ------------------------------------------------------------------------------ real state


@dataclass(frozen=True, slots=True)
class ActualMember:
    handle: str  # transport / vmta / egress source
    weight: float  # repetitions (Postfix), weight (KumoMTA), 1 (PowerMTA)
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class ActualSuspension:
    target: str  # an IP (PowerMTA) or an egress source (KumoMTA)
    where: str  # a domain (PowerMTA) or a site pattern (KumoMTA)
    id: str | None = None
    expires: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MtaState:
    """What the MTA really has. ``raw`` keeps the text each pool was read from (a main.cf
    value, a file), which Postfix plans use as their undo value."""

    pools: Mapping[str, tuple[ActualMember, ...]] = field(default_factory=dict)
    suspensions: tuple[ActualSuspension, ...] = ()
    raw: Mapping[str, str] = field(default_factory=dict)
    weights_meaningful: bool = True
    errors: tuple[str, ...] = ()


DriftKind = Literal["pool_missing", "missing", "unexpected", "weight"]


@dataclass(frozen=True, slots=True)
class DriftItem:
    pool: str
    kind: DriftKind
    handle: str = ""
    desired: float | None = None  # share of the pool, 0..1
    actual: float | None = None

    def describe(self) -> str:
        if self.kind == "pool_missing":
            return f"pool {self.pool}: not present on the MTA"
        if self.kind == "weight":
            return (
                f"pool {self.pool}: {self.handle} share {self.actual:.3f}, "
                f"wanted {self.desired:.3f}"
            )
        return f"pool {self.pool}: {self.handle} {self.kind}"


def _shares(pairs: Sequence[tuple[str, float]]) -> dict[str, float]:
    total = sum(w for _, w in pairs)
    out: dict[str, float] = {}
    for handle, w in pairs:
        out[handle] = out.get(handle, 0.0) + (w / total if total else 0.0)
    return out


def _transport_name(m: MemberView) -> str:
    """The handle drift compares: a Postfix transport by its name only (``px5`` and
    ``px5:[127.0.0.1]:2525`` are one transport; the nexthop is master.cf's business, and
    ``parse_randmap`` reads main.cf the same way)."""
    if m.transport:
        return m.transport.split(":", 1)[0]
    return m.handle()


def drift(
    desired: Sequence[PoolView], actual: MtaState, *, tolerance: float = 0.02
) -> list[DriftItem]:
    """Differences between what the engine wants and what the MTA has, per pool member.

    Shares (weight / pool total) are compared, not raw weights, because each MTA has its own
    units; ``tolerance`` absorbs Postfix's rounding to repetitions. Handles are matched on
    ``MemberView.handle()``, a Postfix transport on its name (not its nexthop).
    """
    items: list[DriftItem] = []
    for pool in desired:
        have = actual.pools.get(pool.name)
        if have is None:
            items.append(DriftItem(pool.name, "pool_missing"))
            continue
        live, _guard = in_pool(pool)
        want = _shares([(_transport_name(m), w) for m, w in live])
        got = _shares([(a.handle, a.weight) for a in have])
        for handle in want:
            if handle not in got:
                items.append(DriftItem(pool.name, "missing", handle, want[handle], None))
            elif actual.weights_meaningful and abs(want[handle] - got[handle]) > tolerance:
                items.append(DriftItem(pool.name, "weight", handle, want[handle], got[handle]))
        for handle in got:
            if handle not in want:
                items.append(DriftItem(pool.name, "unexpected", handle, None, got[handle]))
    return items


# ----------------------------------------------------------------------------- the adapter


class Adapter(Protocol):
    """One MTA. Planning is pure (it reads ``current`` from :meth:`read_state`); only
    ``read_state``/``capture_original`` talk to the MTA, and only ``apply`` changes it."""

    kind: str

    def plan_pools(
        self, pools: Sequence[PoolView], current: MtaState, quotas: Sequence[Quota] = ()
    ) -> Plan: ...

    def plan_quotas(
        self, quotas: Sequence[Quota], pools: Sequence[PoolView], current: MtaState
    ) -> Plan: ...

    def plan_suspend(self, s: Suspension, now: float) -> Plan: ...

    def plan_resume(
        self, ip: str, provider: str, domains: Sequence[str], current: MtaState
    ) -> Plan: ...

    async def read_state(self) -> MtaState: ...

    def owned(self) -> list[str]: ...

    async def capture_original(self) -> dict[str, JsonValue]: ...

    def plan_release(self, original: Mapping[str, JsonValue]) -> Plan: ...
