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
    from opsconsole.core.mta import MtaConfig
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
            restore_holdoff=m.restore_holdoff,
            thresholds=m.policy_thresholds(),
        ),
        sources=tuple(
            SourceConfig(s.name, s.format, s.path, dict(s.ip_map)) for s in settings.sources
        ),
        pools=tuple(
            PoolConfig(
                p.name,
                tuple(
                    MemberConfig(x.ip, x.weight, x.daily_cap, x.transport, x.vmta, x.source)
                    for x in p.members
                ),
            )
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
        mta=mta_config(settings),
    )


def mta_config(settings: Settings) -> MtaConfig | None:
    """``[mta]`` as the adapters' frozen config; pool members' handles come from the pools."""
    from opsconsole.core.mta import KumoConfig, MtaConfig, PmtaConfig, PostfixConfig

    t = settings.mta
    if t is None:
        return None
    sources = {x.ip: x.source for p in settings.pools for x in p.members if x.source}
    env = None
    if t.path is not None:
        import os

        env = {**os.environ, "PATH": t.path}
    return MtaConfig(
        kind=t.kind,
        postfix=PostfixConfig(
            pool_parameters=dict(t.postfix.pool_parameters),
            config_dir=t.postfix.config_dir,
            postconf=t.postfix.postconf,
            reload_command=tuple(t.postfix.reload_command),
            timeout=t.postfix.timeout,
        ),
        pmta=PmtaConfig(
            pools_file=t.pmta.pools_file,
            pmta=t.pmta.pmta,
            reload_command=tuple(t.pmta.reload_command) if t.pmta.reload_command else None,
            own_vmtas=dict(t.pmta.own_vmtas),
            timeout=t.pmta.timeout,
        ),
        kumo=KumoConfig(
            sources_file=t.kumo.sources_file,
            shaping_file=t.kumo.shaping_file,
            base_url=t.kumo.base_url,
            provider_sites=dict(t.kumo.provider_sites),
            sources=sources,
            ehlo_domains=dict(t.kumo.ehlo_domains),
        ),
        min_interval=t.min_interval,
        env=env,
    )


def make_runtime(settings: Settings, store: ConsoleStore, **kwargs: Any) -> EngineRuntime:
    """The engine for these settings on ``store``, with the metrics exporter wired in."""
    from opsconsole.core.engine.loop import EngineRuntime
    from opsconsole.metrics import MetricsExporter

    config = engine_config(settings)
    exporter = MetricsExporter(store, config, settings.metrics.textfile, settings.metrics.listen)
    return EngineRuntime(config, store, services=[exporter], **kwargs)
