"""The edge: validated settings become the engine's plain config.

Everything that needs both a settings object and the engine meets here, so ``core/``
never sees pydantic, files or the environment, and ``storage/`` never sees the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.core.config import (
    EngineConfig,
    HookConfig,
    MemberConfig,
    MonitorConfig,
    NotifierConfig,
    PoolConfig,
    RetentionConfig,
    ScheduleConfig,
    Secret,
    SourceConfig,
    WarmupConfig,
    WarmupDecl,
)

if TYPE_CHECKING:
    from opsconsole.core.engine.loop import EngineRuntime
    from opsconsole.core.views import ConsoleStore
    from opsconsole.settings import Settings


def engine_config(settings: Settings) -> EngineConfig:
    m = settings.monitor
    w = settings.warmup
    r = settings.retention
    return EngineConfig(
        host=settings.host,
        monitor=MonitorConfig(
            check_interval=m.check_interval,
            window=m.window,
            deprioritize_factor=m.deprioritize_factor,
            recover_checks=m.recover_checks,
            renotify_delta=m.renotify_delta,
            stale_after=m.stale_after,
            lease_ttl=m.lease_ttl,
            thresholds=m.policy_thresholds(),
        ),
        sources=tuple(
            SourceConfig(s.name, s.format, s.path, dict(s.ip_map), tuple(s.internal_relays))
            for s in settings.sources
        ),
        pools=tuple(
            PoolConfig(p.name, tuple(MemberConfig(x.ip, x.weight, x.daily_cap) for x in p.members))
            for p in settings.pools
        ),
        warmup=WarmupConfig(
            default_schedule=w.default_schedule,
            auto_resume_after=w.auto_resume_after,
            schedules={
                name: ScheduleConfig(s.stage_days, tuple(s.daily_quotas))
                for name, s in w.schedules.items()
            },
        ),
        warmups=tuple(WarmupDecl(d.ip, d.pool, d.schedule) for d in settings.warmups),
        notify=tuple(
            NotifierConfig(
                n.kind, Secret(n.url.get_secret_value()), n.name, n.min_severity, n.timeout
            )
            for n in settings.notify
        ),
        actions=tuple(HookConfig(tuple(a.on), tuple(a.run), a.timeout) for a in settings.actions),
        retention=RetentionConfig(r.buckets, r.samples, r.audit),
    )


def make_runtime(settings: Settings, store: ConsoleStore, **kwargs: Any) -> EngineRuntime:
    """The engine for these settings on ``store``, with the metrics exporter wired in."""
    from opsconsole.core.engine.loop import EngineRuntime
    from opsconsole.metrics import MetricsExporter

    config = engine_config(settings)
    exporter = MetricsExporter(store, config, settings.metrics.textfile, settings.metrics.listen)
    return EngineRuntime(config, store, services=[exporter], **kwargs)
