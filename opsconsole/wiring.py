"""The edge: validated settings become the engine's plain config.

Everything that needs both a settings object and the engine meets here, so ``core/``
never sees pydantic, files or the environment, and ``storage/`` never sees the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.core.config import (
    AlertGroupConfig,
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
from opsconsole.provider_settings import provider_services, providers_config

if TYPE_CHECKING:
    from opsconsole.core.engine.loop import EngineRuntime, Service
    from opsconsole.core.mta import MtaConfig
    from opsconsole.core.reputation.job import ReputationConfig
    from opsconsole.core.views import ConsoleStore
    from opsconsole.settings import NotifySettings, Settings


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
            holdoff_worse=m.holdoff_worse,
            remove_reenable_after=m.remove_reenable_after,
            thresholds=m.policy_thresholds(),
        ),
        sources=tuple(
            SourceConfig(s.name, s.format, s.path, dict(s.ip_map), tuple(s.internal_relays))
            for s in settings.sources
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
                name: ScheduleConfig(
                    s.stage_days,
                    tuple(s.daily_quotas),
                    {k.lower(): tuple(v) for k, v in s.per_provider.items()},
                )
                for name, s in w.schedules.items()
            },
        ),
        warmups=tuple(WarmupDecl(d.ip, d.pool, d.schedule) for d in settings.warmups),
        notify=tuple(notifier_config(n) for n in settings.notify),
        alerts=AlertGroupConfig(settings.alerts.group_threshold, settings.alerts.group_by),
        actions=tuple(HookConfig(tuple(a.on), tuple(a.run), a.timeout) for a in settings.actions),
        retention=RetentionConfig(r.buckets, r.samples, r.audit),
        mta=mta_config(settings),
        providers=providers_config(settings.providers),
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
            command=tuple(t.pmta.command) if t.pmta.command else None,
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


def _secret(v: Any) -> str:
    return str(v.get_secret_value()) if v is not None else ""


def notifier_config(n: NotifySettings) -> NotifierConfig:
    """One ``[[notify]]`` table as the engine's config; the kind's own dataclass (email,
    pagerduty, alertmanager, telegram) rides in ``spec``."""
    from opsconsole.core.notify import alertmanager, email, pagerduty, telegram

    name = n.label
    common: dict[str, Any] = {
        "name": name, "min_severity": n.min_severity, "timeout": n.timeout,
        "rules": tuple(n.rules), "pools": tuple(n.pools), "providers": tuple(n.providers),
    }  # fmt: skip
    spec: object | None = None
    endpoint = _secret(n.url)
    if n.kind == "email":
        assert n.host and n.sender
        spec = email.EmailConfig(
            **common, host=n.host, sender=n.sender, to=tuple(n.to), port=n.port, tls=n.tls,
            username=n.username, password=_secret(n.password), ca_file=n.ca_file,
            tls_verify=n.tls_verify, local_hostname=n.local_hostname,
        )  # fmt: skip
        endpoint = f"smtp://{n.host}:{n.port or ''}".rstrip(":")
    elif n.kind == "pagerduty":
        spec = pagerduty.PagerDutyConfig(
            **common, routing_key=_secret(n.routing_key), url=endpoint or pagerduty.DEFAULT_URL
        )
        endpoint = endpoint or pagerduty.DEFAULT_URL
    elif n.kind == "alertmanager":
        spec = alertmanager.AlertmanagerConfig(
            **common, url=endpoint, resend_interval=n.resend_interval,
            resolve_timeout=n.resolve_timeout, generator_url=n.generator_url,
        )  # fmt: skip
    elif n.kind == "telegram":
        assert n.chat_id
        api = n.api_url or telegram.DEFAULT_API_URL
        spec = telegram.TelegramConfig(
            **common, token=_secret(n.bot_token), chat_id=n.chat_id, api_url=api
        )
        endpoint = api
    return NotifierConfig(
        n.kind, Secret(endpoint), n.name, n.min_severity, n.timeout,
        rules=tuple(n.rules), pools=tuple(n.pools), providers=tuple(n.providers),
        inhibit=n.inhibit, spec=spec,
    )  # fmt: skip


def make_runtime(settings: Settings, store: ConsoleStore, **kwargs: Any) -> EngineRuntime:
    """The engine for these settings on ``store``, with the metrics exporter wired in."""
    from opsconsole.core.engine.loop import EngineRuntime
    from opsconsole.metrics import MetricsExporter

    config = engine_config(settings)
    mset = settings.metrics
    exporter = MetricsExporter(store, config, mset.textfile, mset.listen, mset.top_ips, settings.db)
    clock = kwargs.get("clock")
    services: list[Any] = [
        exporter,
        *webhook_services(settings, store, clock),
        *reputation_services(settings, config, store, clock),
        *provider_services(config.providers, clock),
    ]
    runtime = EngineRuntime(config, store, services=services, **kwargs)
    for service in services:  # the reputation job fences its writes with the lease as held
        if hasattr(service, "fence_of"):
            service.fence_of = lambda: runtime.fence
    return runtime


def receiver_config(settings: Settings) -> Any:
    """``[webhooks]`` as core/esp's frozen receiver config; an ESP without its key (or,
    for SES, without an allowed topic) is not served at all."""
    from opsconsole.core.esp.receiver import MailgunHook, ReceiverConfig, SendgridHook, SesHook
    from opsconsole.core.esp.ses import SesAttribution

    w = settings.webhooks
    ses = w.ses
    return ReceiverConfig(
        sendgrid=SendgridHook(w.sendgrid_public_key.get_secret_value(), w.window)
        if w.sendgrid_public_key is not None
        else None,
        mailgun=MailgunHook(w.mailgun_signing_key.get_secret_value(), w.window)
        if w.mailgun_signing_key is not None
        else None,
        ses=SesHook(
            frozenset(ses.allowed_topics),
            SesAttribution(
                dict(ses.ip_by_config_set), tuple(ses.ip_tags), dict(ses.subuser_by_config_set)
            ),
            ses.window,
        )
        if ses.allowed_topics
        else None,
    )


def webhook_services(settings: Settings, store: Any, clock: Any = None) -> list[Any]:
    """The ESP receiver when ``[webhooks] listen`` is set (every engine process receives:
    writes are idempotent by event id, see core/esp/service.py)."""
    if not settings.webhooks.listen:
        return []
    from opsconsole.core.esp.service import WebhookService
    from opsconsole.core.events import system_clock

    clock = clock or system_clock
    return [
        WebhookService(
            receiver_config(settings),
            store.esp_events(clock, settings.host),
            settings.webhooks.listen,
            clock=clock,
            sns_origin=settings.webhooks.sns_test_origin,
        )
    ]


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
        max_seen_ips=r.max_seen_ips,
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
