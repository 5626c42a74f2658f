"""Provider suspensions land in the MTA (issue 12 point 1), on the journal's runner.

A ``suspend_provider`` / ``resume_provider`` decision (the engine's, its expiry, an operator's
``undo``) writes a journal row of kind ``mta_provider`` naming (ip, provider). Like a pool
row, the row carries no plan: :class:`ProviderSuspender` looks at the desired state when it
runs (is a suspension of that pair in force in the database?) and at its ledger (what it put
into the MTA before), so a retried, replayed or out-of-order row does the right thing:

* in force, not yet applied with this ``until``: the adapter's ``plan_suspend`` runs as one
  apply with rollback (PowerMTA: ``pmta disable source --reenable-after=... IP DOMAIN`` per
  provider domain; KumoMTA: ``POST /api/admin/suspend-ready-q/v1`` per source->site queue, its
  returned id kept in the ledger; an extension DELETEs the previous id after the new POST);
* not in force: lifted, each call on its own and idempotent (``pmta enable source IP DOMAIN``
  per domain; ``DELETE {id}`` per stored id, a 404 meaning already gone; with no stored id
  the ids are read back from kumod's ``GET`` listing);
* Postfix has no per-destination-per-source switch: recorded and audited, no MTA call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opsconsole.core.mta import MtaConfig
from opsconsole.core.mta.apply import ApplyResult, Runner, StepOutcome, apply, outcome_json
from opsconsole.core.mta.base import Adapter, Http, MtaState, Plan, Step, Suspension
from opsconsole.core.mta.kumo import SUSPEND_PATH

SUSPEND, RESUME = "suspend_provider", "resume_provider"
NO_MTA_CALL = (
    "Postfix has no per-destination-per-source control: the suspension is recorded and "
    "audited, no MTA call ([[actions]] hooks with {provider}/{domains} remain the way)"
)


@dataclass(frozen=True, slots=True)
class Applied:
    """A suspension as opsconsole applied it to the MTA (``ids``: kumod's suspension ids)."""

    ip: str
    provider: str
    until: float
    ids: tuple[str, ...] = ()


class Ledger(Protocol):
    async def applied(self, kind: str) -> dict[tuple[str, str], Applied]: ...

    async def record(self, kind: str, a: Applied, now: float) -> None: ...

    async def forget(self, kind: str, ip: str, provider: str) -> None: ...


class Wanted(Protocol):
    """A suspension in the database (``core.provider_policy.Suspension``)."""

    @property
    def until(self) -> float: ...

    @property
    def reason(self) -> str: ...


WantedOf = Callable[[], Awaitable[Mapping[tuple[str, str], Wanted]]]


@dataclass(frozen=True, slots=True)
class ProviderPlan:
    op: str  # suspend_provider | resume_provider
    ip: str
    provider: str
    atomic: tuple[Step, ...] = ()  # one apply, rolled back as a whole
    tolerant: tuple[Step, ...] = ()  # each on its own; an HTTP 404 is "already gone"
    until: float | None = None
    notes: tuple[str, ...] = ()
    unsupported: str | None = None

    def describe(self) -> list[str]:
        lines = [s.describe() for s in (*self.atomic, *self.tolerant)]
        lines += [f"note: {n}" for n in self.notes]
        if self.unsupported:
            lines.append(f"unsupported: {self.unsupported}")
        return lines


def _kumo_delete(adapter: Adapter, sid: str) -> Http:
    base = str(getattr(getattr(adapter, "config", None), "base_url", "")).rstrip("/")
    return Http("DELETE", base + SUSPEND_PATH, {"id": sid})


class ProviderSuspender:
    """What the journal runner calls for an ``mta_provider`` row: (payload) -> (ok, error,
    audit detail); the detail lists every call with its exit code / HTTP status and time."""

    def __init__(
        self,
        config: MtaConfig,
        adapter: Adapter,
        runner: Runner,
        ledger: Ledger,
        wanted: WantedOf,
        domains_of: Callable[[str], Sequence[str]],
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.adapter = adapter
        self.runner = runner
        self.ledger = ledger
        self.wanted = wanted
        self.domains_of = domains_of
        self.clock = clock

    @property
    def kind(self) -> str:
        return self.config.kind

    async def plan_one(
        self,
        ip: str,
        provider: str,
        now: float,
        wanted: Mapping[tuple[str, str], Wanted] | None = None,
        applied: Mapping[tuple[str, str], Applied] | None = None,
        asked: str = RESUME,
    ) -> ProviderPlan:
        """What to do now for (ip, provider); ``asked``: the decision the row came from (a
        suspend row that finds nothing wanted and nothing applied has nothing to lift)."""
        wanted = await self.wanted() if wanted is None else wanted
        applied = await self.ledger.applied(self.kind) if applied is None else applied
        want, had = wanted.get((ip, provider)), applied.get((ip, provider))
        domains = tuple(self.domains_of(provider))
        if want is not None and want.until > now:
            if had is not None and had.until == want.until:
                return ProviderPlan(SUSPEND, ip, provider, until=want.until,
                                    notes=(f"{ip} at {provider}: already in the MTA",))  # fmt: skip
            reason = want.reason or f"suspended at {provider}"
            plan = self.adapter.plan_suspend(
                Suspension(ip, provider, domains, want.until, reason), now
            )
            old = tuple(_kumo_delete(self.adapter, i) for i in (had.ids if had else ()))
            return self._from(SUSPEND, ip, provider, plan, old, want.until)
        if had is None and asked == SUSPEND:  # lifted before it ever reached the MTA
            return ProviderPlan(RESUME, ip, provider,
                                notes=(f"{ip} at {provider}: no longer suspended",))  # fmt: skip
        if self.kind == "kumo":
            if had is not None and had.ids:
                steps = tuple(_kumo_delete(self.adapter, i) for i in had.ids)
                return ProviderPlan(RESUME, ip, provider, tolerant=steps)
            current = await self.adapter.read_state()  # no id of ours: kumod's listing
            plan = self.adapter.plan_resume(ip, provider, domains, current)
        elif self.kind == "pmta" and not domains:
            plan = Plan(unsupported=f"provider {provider} has no domains to enable")
        else:
            plan = self.adapter.plan_resume(ip, provider, domains, MtaState())
        resume = self._from(RESUME, ip, provider, plan, (), None)
        return ProviderPlan(RESUME, ip, provider, (), resume.atomic, None, resume.notes,
                            resume.unsupported)  # fmt: skip

    def _from(
        self,
        op: str,
        ip: str,
        provider: str,
        plan: Plan,
        tolerant: tuple[Step, ...],
        until: float | None,
    ) -> ProviderPlan:
        unsupported = plan.unsupported
        notes = plan.notes
        if unsupported and self.kind == "postfix":
            unsupported, notes = None, (*notes, NO_MTA_CALL)
        return ProviderPlan(op, ip, provider, plan.steps, tolerant, until, notes, unsupported)

    async def pending(self, now: float) -> list[tuple[ProviderPlan, list[str]]]:
        """Every suspension the MTA does not have yet, and every one it has that is no
        longer wanted, with the calls that would fix it (``mta plan``)."""
        wanted = await self.wanted()
        applied = await self.ledger.applied(self.kind)
        keys = {k for k, w in wanted.items() if w.until > now} | set(applied)
        out = []
        for ip, prov in sorted(keys):
            p = await self.plan_one(ip, prov, now, wanted, applied)
            if p.atomic or p.tolerant or p.unsupported:
                out.append((p, p.describe()))
        return out

    async def __call__(self, payload: Mapping[str, Any]) -> tuple[bool, str | None, dict[str, Any]]:
        ip, provider = str(payload.get("ip", "")), str(payload.get("provider", ""))
        now = self.clock()
        try:
            asked = str(payload.get("action") or RESUME)
            p = await self.plan_one(ip, provider, now, asked=asked)
        except Exception as e:  # the database or the MTA listing briefly gone: retried
            return False, f"cannot plan: {e}", {"kind": self.kind, "provider": provider}
        detail: dict[str, Any] = {
            "kind": self.kind, "op": p.op, "provider": provider,
            "reason": str(payload.get("reason", "")), "plan": p.describe(),
        }  # fmt: skip
        if p.unsupported:
            detail.update(ok=False, steps=[], rolled_back=[], error=p.unsupported)
            return False, p.unsupported, detail
        result = await apply(p.atomic, self.runner) if p.atomic else ApplyResult(True)
        outcomes, rolled = list(result.steps), list(result.rolled_back)
        error = result.error
        ok = result.ok
        if ok:
            for step in p.tolerant:
                one = await apply((step,), self.runner)
                outcomes += one.steps
                gone = isinstance(step, Http) and one.steps and one.steps[0].returncode == 404
                if not one.ok and not gone:
                    ok, error = False, one.error
        detail.update(json.loads(outcome_json(ApplyResult(ok, tuple(outcomes), error,
                                                          tuple(rolled)))))  # fmt: skip
        if not ok:
            return False, error, detail
        try:
            if p.op == SUSPEND and p.until is not None and p.atomic:
                ids = tuple(_ids(result.steps))
                await self.ledger.record(self.kind, Applied(ip, provider, p.until, ids), now)
            elif p.op == RESUME:
                await self.ledger.forget(self.kind, ip, provider)
        except Exception as e:
            return False, f"applied, but not recorded: {e}", detail
        return True, None, detail


def _ids(steps: Sequence[StepOutcome]) -> list[str]:
    return [
        str(o.response["id"])
        for o in steps
        if isinstance(o.response, dict) and o.response.get("id") is not None
    ]


class _NoLedger:
    """A store without the ledger (tests' fakes): every apply is planned afresh."""

    async def applied(self, kind: str) -> dict[tuple[str, str], Applied]:
        return {}

    async def record(self, kind: str, a: Applied, now: float) -> None:
        return None

    async def forget(self, kind: str, ip: str, provider: str) -> None:
        return None


def suspender_for(
    config: Any, store: Any, applier: Any, clock: Callable[[], float]
) -> ProviderSuspender:
    """The suspender of an engine (``config``: EngineConfig with ``mta``, ``store``: its
    store, ``applier``: the pool applier whose adapter and runner it shares)."""
    from opsconsole.core.engine import provider_check

    reads = provider_check.reads_of(store)

    async def wanted() -> Mapping[tuple[str, str], Wanted]:
        return {} if reads is None else await reads.suspensions()

    table, _sigs = provider_check.tools(config.providers)
    journal = store.journal()
    ledger: Ledger = (
        journal.suspension_ledger() if hasattr(journal, "suspension_ledger") else _NoLedger()
    )
    return ProviderSuspender(
        config.mta, applier.adapter, applier.runner, ledger, wanted, table.domains_of, clock
    )
