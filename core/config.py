"""The engine's configuration as plain frozen values.

The edge (``opsconsole.wiring``) builds these from the validated settings; nothing under
``core/`` reads a settings object, a file or the environment. Secrets travel as
:class:`Secret`, whose ``repr`` never shows the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opsconsole.core.provider_policy import ProvidersConfig
from opsconsole.core.stats import Thresholds

if TYPE_CHECKING:
    from opsconsole.core.mta import MtaConfig


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret string (a webhook URL with its token): ``repr`` and ``str`` say ``***``."""

    value: str

    def get_secret_value(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    check_interval: float = 300.0
    window: float = 3600.0
    deprioritize_factor: float = 0.1
    recover_checks: int = 3
    renotify_delta: float = 0.05
    stale_after: float = 900.0
    lease_ttl: float = 30.0
    restore_holdoff: float = 1800.0  # after an operator restore: alert, do not remove again
    holdoff_worse: float = 0.5  # core.holdoff.clearly_worse: relative rise over the restore
    remove_reenable_after: float = 21600.0  # an engine removal expires, 0: never (core.holdoff)
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    format: str
    path: str  # a file or a glob
    ip_map: Mapping[str, str] = field(default_factory=dict)
    internal_relays: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberConfig:
    ip: str
    weight: float = 100.0
    daily_cap: int | None = None
    transport: str | None = None  # Postfix master.cf transport bound to this IP
    vmta: str | None = None  # PowerMTA virtual-mta
    source: str | None = None  # KumoMTA egress source


@dataclass(frozen=True, slots=True)
class PoolConfig:
    name: str
    members: tuple[MemberConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    stage_days: int
    daily_quotas: tuple[int, ...]
    # provider -> daily quota per stage at that provider (core/provider_warmup.py)
    per_provider: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WarmupConfig:
    default_schedule: str = "six-week"
    auto_resume_after: float | None = None
    schedules: Mapping[str, ScheduleConfig] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WarmupDecl:
    ip: str
    pool: str | None = None
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    """One ``[[notify]]`` table. ``url`` is the endpoint (webhook/Slack: the secret URL;
    other kinds: their endpoint, shown redacted in ``status``). ``spec`` is the kind's own
    frozen config (``core.notify.kinds.CONFIGS``) for email, pagerduty, alertmanager and
    telegram; webhook and Slack need none. ``inhibit``: hold back IP-level notices while a
    pool-wide incident for that pool is open."""

    kind: str
    url: Secret
    name: str | None = None
    min_severity: str = "info"
    timeout: float = 10.0
    rules: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    inhibit: bool = False
    spec: object | None = None

    @property
    def label(self) -> str:
        return self.name or self.kind


@dataclass(frozen=True, slots=True)
class AlertGroupConfig:
    """Storm control: more than ``group_threshold`` alerts of one ``group_by`` key opened
    in one check go out as one grouped notice per notifier and group."""

    group_threshold: int = 10
    group_by: str = "provider"  # provider | pool


@dataclass(frozen=True, slots=True)
class HookConfig:
    on: tuple[str, ...]
    run: tuple[str, ...]
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    buckets: float = 90 * 86400.0
    samples: float = 7 * 86400.0
    audit: float = 365 * 86400.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine loop, its check and the operator commands need."""

    host: str
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    sources: tuple[SourceConfig, ...] = ()
    pools: tuple[PoolConfig, ...] = ()
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    warmups: tuple[WarmupDecl, ...] = ()
    notify: tuple[NotifierConfig, ...] = ()
    alerts: AlertGroupConfig = field(default_factory=AlertGroupConfig)
    actions: tuple[HookConfig, ...] = ()
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    providers: ProvidersConfig = field(default_factory=ProvidersConfig)
    mta: MtaConfig | None = None  # [mta]: decisions applied to the MTA through the journal
