"""MTA adapters: engine decisions become Postfix, PowerMTA or KumoMTA configuration.

``build_adapter(config, runner)`` picks the adapter for ``config.kind``. Every adapter plans
pure data (:class:`~opsconsole.core.mta.base.Plan`); :func:`~opsconsole.core.mta.apply.apply`
executes it with rollback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from opsconsole.core.mta.apply import ApplyResult, Runner, StepOutcome, apply
from opsconsole.core.mta.base import (
    Adapter,
    DriftItem,
    MemberView,
    MtaState,
    Plan,
    PoolView,
    Quota,
    Suspension,
    drift,
)
from opsconsole.core.mta.kumo import KumoAdapter, KumoConfig
from opsconsole.core.mta.pmta import PmtaAdapter, PmtaConfig
from opsconsole.core.mta.postfix import PostfixAdapter, PostfixConfig

MtaKind = Literal["postfix", "pmta", "kumo"]

__all__ = [
    "Adapter",
    "ApplyResult",
    "DriftItem",
    "KumoConfig",
    "MemberView",
    "MtaConfig",
    "MtaState",
    "Plan",
    "PmtaConfig",
    "PoolView",
    "PostfixConfig",
    "Quota",
    "Runner",
    "StepOutcome",
    "Suspension",
    "apply",
    "build_adapter",
    "drift",
]


@dataclass(frozen=True, slots=True)
class MtaConfig:
    """The ``[mta]`` section: ``kind`` and the settings of that kind."""

    kind: MtaKind
    postfix: PostfixConfig = field(default_factory=PostfixConfig)
    pmta: PmtaConfig = field(default_factory=PmtaConfig)
    kumo: KumoConfig = field(default_factory=KumoConfig)
    min_interval: float = 10.0  # seconds between two applies by the engine
    env: Mapping[str, str] | None = None  # commands' environment (None: the engine's)


def build_adapter(config: MtaConfig, runner: Runner) -> Adapter:
    if config.kind == "postfix":
        return PostfixAdapter(config.postfix, runner)
    if config.kind == "pmta":
        return PmtaAdapter(config.pmta, runner)
    if config.kind == "kumo":
        return KumoAdapter(config.kumo, runner)
    raise ValueError(f"unknown [mta] kind {config.kind!r}: expected postfix, pmta or kumo")
