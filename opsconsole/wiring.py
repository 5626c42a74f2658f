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
    from opsconsole.core.engine.loop import EngineRuntime, Service
    from opsconsole.core.reputation.job import ReputationConfig
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
            SourceConfig(s.name, s.format, s.path, dict(s.ip_map)) for s in settings.sources
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
    services = [exporter, *reputation_services(settings, config, store, kwargs.get("clock"))]
    return EngineRuntime(config, store, services=services, **kwargs)


def reputation_config(settings: Settings) -> ReputationConfig | None:
    """``[reputation]`` as plain config; None when the section is absent (checks off)."""
    from opsconsole.core.reputation.dnsbl import DnsblConfig
    from opsconsole.core.reputation.job import ReputationConfig
    from opsconsole.core.reputation.snds import SndsConfig
    from opsconsole.core.reputation.zones import Code, Zone, ZoneOverride, build_zones

    r = settings.reputation
    if r is None:
        return None
    extra = tuple(
        Zone(z.name, z.label or z.name, z.lookup_url,
             {k: Code(v, z.severity or "warning") for k, v in z.codes.items()},
             on_listed=z.on_listed or "alert", unknown=Code("listed", z.severity or "warning"))
        for z in r.custom_zones
    )  # fmt: skip
    overrides = {n: ZoneOverride(o.on_listed, o.severity) for n, o in r.zone.items()}
    dqs = r.dqs_key.get_secret_value() if r.dqs_key else None
    zones = build_zones(r.zones, extra=extra, overrides=overrides, dqs_key=dqs)
    snds = (
        SndsConfig(r.snds_key.get_secret_value(), r.snds_url, min(30.0, r.deadline))
        if r.snds_key
        else None
    )
    return ReputationConfig(
        zones=zones,
        nameservers=tuple(r.nameservers) if r.nameservers is not None else None,
        interval=r.interval,
        timeout=r.timeout,
        deadline=r.deadline,
        dnsbl=DnsblConfig(
            concurrency=r.concurrency, per_zone_rate=r.rate, burst=r.rate, deadline=r.deadline
        ),
        snds=snds,
        snds_interval=r.snds_interval,
    )


def reputation_services(
    settings: Settings, config: EngineConfig, store: ConsoleStore, clock: Any = None
) -> list[Service]:
    """The reputation job when ``[reputation]`` is configured, else nothing."""
    rep = reputation_config(settings)
    if rep is None:
        return []
    from opsconsole.core.events import system_clock
    from opsconsole.core.reputation.job import ReputationService

    port = store.reputation()  # type: ignore[attr-defined]  # SqlStore's reputation store
    return [ReputationService(config, rep, store, port, clock or system_clock)]
