"""The engine's side of core.holdoff: where the rows are read (the store's ``holdoff_store``,
a command transaction's ``holdoffs``) and the config it needs."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from opsconsole.core.config import EngineConfig
from opsconsole.core.holdoff import HoldoffConfig, HoldoffState
from opsconsole.core.stats import WindowStats


class HoldoffReads(Protocol):
    async def holdoff_state(self) -> HoldoffState: ...


class HoldoffTxReads(HoldoffReads, Protocol):
    async def ip_stats(self, ip: str, lo: int, hi: int) -> WindowStats: ...

    async def audit_entry(self, audit_id: int) -> dict[str, Any] | None: ...

    async def undone_by(self, audit_id: int) -> dict[str, Any] | None: ...


@runtime_checkable
class HasHoldoffStore(Protocol):
    holdoff_store: Any


@runtime_checkable
class HasHoldoffs(Protocol):
    holdoffs: Any


def reads_of(store: object) -> HoldoffReads | None:
    """The store's hold-off reads, when it has them (SqlStore does)."""
    if isinstance(store, HasHoldoffStore):
        reads: HoldoffReads = store.holdoff_store
        return reads
    return None


def tx_reads(tx: object) -> HoldoffTxReads | None:
    """A command transaction's hold-off reads (SqlTx has them)."""
    if isinstance(tx, HasHoldoffs):
        reads: HoldoffTxReads = tx.holdoffs
        return reads
    return None


def config_of(config: EngineConfig) -> HoldoffConfig:
    m = config.monitor
    return HoldoffConfig(m.restore_holdoff, m.holdoff_worse, m.remove_reenable_after)
