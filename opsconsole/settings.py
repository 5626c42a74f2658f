"""One settings object, from the TOML file, ``OPSCONSOLE_*`` and the legacy ``BOUNCE_*``
environment variables, and the command line (which wins).

pydantic-settings does the layering and validation; unknown keys are errors, so a typo in
a config file is reported instead of silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from platformdirs import user_config_path, user_data_path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from opsconsole.core.actions import ACTION_NAMES
from opsconsole.core.durations import parse_duration
from opsconsole.core.redact import redact_url
from opsconsole.core.stats import Thresholds
from opsconsole.provider_settings import ProvidersSection

Duration = Annotated[float, BeforeValidator(parse_duration)]
SeverityName = Literal["info", "warning", "critical"]
Format = Literal["pmta", "postfix", "kumo", "jsonl"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThresholdSettings(_Strict):
    warning: float = Field(0.05, ge=0, le=1)
    critical: float = Field(0.10, ge=0, le=1)
    block: float = Field(0.15, ge=0, le=1)
    complaint_warning: float = Field(0.001, ge=0, le=1)
    complaint_block: float = Field(0.003, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdSettings:
        if not self.warning <= self.critical <= self.block:
            raise ValueError("thresholds must satisfy warning <= critical <= block")
        if not self.complaint_warning <= self.complaint_block:
            raise ValueError("thresholds must satisfy complaint_warning <= complaint_block")
        return self


class MonitorSettings(_Strict):
    check_interval: Duration = 300.0
    window: Duration = 3600.0
    min_sample: int = Field(10, ge=1)
    deprioritize_factor: float = Field(0.1, ge=0, le=1)
    recover_checks: int = Field(3, ge=1)
    renotify_delta: float = Field(0.05, ge=0)
    stale_after: Duration = 900.0  # a followed source silent this long raises source-stale
    lease_ttl: Duration = 30.0  # a leader that misses heartbeats this long is replaced
    restore_holdoff: Duration = 1800.0  # after a restore by hand: alert, do not remove again
    holdoff_worse: float = Field(0.5, ge=0)  # relative rise that overrides a hold-off
    remove_reenable_after: Duration = 21600.0  # engine removals expire (0: never)
    thresholds: ThresholdSettings = ThresholdSettings()

    @field_validator("check_interval", "lease_ttl")
    @classmethod
    def _at_least_a_second(cls, v: float) -> float:
        # 0 spins the loop (check_interval) or lets every engine lead (lease_ttl)
        if v < 1:
            raise ValueError("must be at least 1s")
        return v

    @field_validator("window")
    @classmethod
    def _at_least_a_minute(cls, v: float) -> float:
        if v < 60:
            raise ValueError("must be at least 1m (buckets are per minute)")
        return v

    def policy_thresholds(self) -> Thresholds:
        t = self.thresholds
        return Thresholds(
            warning=t.warning,
            critical=t.critical,
            block=t.block,
            min_sample=self.min_sample,
            complaint_warning=t.complaint_warning,
            complaint_block=t.complaint_block,
        )


class SourceSettings(_Strict):
    name: str
    format: Format
    path: str  # a file path or a glob
    ip_map: dict[str, str] = {}
    # Postfix: relays ("host:port") that are hops into this host (a content filter) even
    # where the re-injected queue id is not in the log.
    internal_relays: list[str] = []


class PoolMemberSettings(_Strict):
    ip: str
    weight: float = Field(100, ge=0)
    daily_cap: int | None = Field(None, ge=0)
    transport: str | None = None  # [mta] postfix: master.cf transport bound to this IP
    vmta: str | None = None  # [mta] pmta: virtual-mta
    source: str | None = None  # [mta] kumo: egress source


class PoolSettings(_Strict):
    name: str
    members: list[PoolMemberSettings] = []


class ScheduleSettings(_Strict):
    stage_days: int = Field(7, ge=1)
    daily_quotas: list[int] = Field(min_length=1)
    # provider -> its own daily quota per stage, e.g. { microsoft = [500, 1000] }
    per_provider: dict[str, Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]] = {}


class WarmupSettings(_Strict):
    default_schedule: str = "six-week"
    auto_resume_after: Annotated[float | None, BeforeValidator(lambda v: _opt_duration(v))] = None
    schedules: dict[str, ScheduleSettings] = {}


class WarmupDecl(_Strict):
    ip: str
    pool: str | None = None
    schedule: str | None = None


_NOTIFY_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # kind -> (required keys, allowed kind-specific keys)
    "webhook": (frozenset({"url"}), frozenset({"url"})),
    "slack": (frozenset({"url"}), frozenset({"url"})),
    "email": (
        frozenset({"host", "sender", "to"}),
        frozenset(
            {
                "host",
                "port",
                "tls",
                "username",
                "password",
                "sender",
                "to",
                "ca_file",
                "tls_verify",
                "local_hostname",
            }
        ),
    ),
    "pagerduty": (frozenset({"routing_key"}), frozenset({"routing_key", "url"})),
    "alertmanager": (
        frozenset({"url"}),
        frozenset({"url", "resend_interval", "resolve_timeout", "generator_url"}),
    ),
    "telegram": (
        frozenset({"bot_token", "chat_id"}),
        frozenset({"bot_token", "chat_id", "api_url"}),
    ),
}
_COMMON_KEYS = frozenset(
    {"kind", "name", "min_severity", "timeout", "rules", "pools", "providers", "inhibit"}
)


class NotifySettings(_Strict):
    """One ``[[notify]]`` table; which keys a kind takes is checked in ``_kind_keys``.
    Email's ``from`` is stored as ``sender`` (``from`` is a Python keyword)."""

    kind: Literal["webhook", "slack", "email", "pagerduty", "alertmanager", "telegram"]
    url: SecretStr | None = None
    name: str | None = None
    min_severity: SeverityName = "info"
    timeout: Duration = Field(10.0, gt=0)
    rules: list[str] = []
    pools: list[str] = []
    providers: list[str] = []
    inhibit: bool = False
    # email
    host: str | None = None
    port: int = Field(0, ge=0, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str = ""
    password: SecretStr | None = None
    sender: str | None = Field(None, alias="from")
    to: list[str] = []
    ca_file: str | None = None  # tests: a throw-away CA
    tls_verify: bool = True
    local_hostname: str = ""
    # pagerduty
    routing_key: SecretStr | None = None
    # alertmanager
    resend_interval: Duration = Field(60.0, gt=0)
    resolve_timeout: Duration = Field(300.0, gt=0)
    generator_url: str = ""
    # telegram
    bot_token: SecretStr | None = None
    chat_id: str | None = None
    api_url: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _kind_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kind = data.get("kind")
        if kind not in _NOTIFY_KEYS:
            return data  # the Literal names the kinds
        required, allowed = _NOTIFY_KEYS[kind]
        keys = {"sender" if k == "from" else k for k in data}
        for k in sorted(keys - _COMMON_KEYS - allowed):
            raise ValueError(f"{k}: not a key of a {kind} notifier")
        for k in sorted(required - keys):
            raise ValueError(f"{'from' if k == 'sender' else k}: required for a {kind} notifier")
        if kind == "email" and data.get("tls") == "none" and data.get("password"):
            raise ValueError("password: refusing to send a password without TLS (tls = none)")
        return data

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            check_http_url(v.get_secret_value())
        return v

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str | None) -> str | None:
        if v:
            check_http_url(v)
        return v

    @property
    def label(self) -> str:
        return self.name or self.kind


class ActionSettings(_Strict):
    on: list[Literal[ACTION_NAMES]]  # type: ignore[valid-type]
    run: list[str] = Field(min_length=1)
    timeout: Duration = 10.0


class RetentionSettings(_Strict):
    buckets: Duration = 90 * 86400.0
    samples: Duration = 7 * 86400.0
    audit: Duration = 365 * 86400.0


class TuiSettings(_Strict):
    refresh: Duration = 1.0  # minimum seconds between panel refreshes
    keymap: dict[str, str] = {}  # binding id -> keys, e.g. { freeze = "f" }


class MetricsSettings(_Strict):
    textfile: str | None = None  # node_exporter textfile path
    listen: str | None = None  # "127.0.0.1:9109" to serve /metrics, /health, /ready
    top_ips: int = Field(default=50, ge=0, le=10000)  # IPs with their own series (by volume)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is None:
            return v
        host, sep, port = v.rpartition(":")
        if not port.isdigit() or not 0 <= int(port) <= 65535 or (sep and not host.strip("[]")):
            raise ValueError(f"must be HOST:PORT or PORT (port 0-65535), not {v!r}")
        return v


def check_http_url(url: str) -> None:
    """ValueError (never showing the URL's secret) unless ``url`` is http(s)://host[:port]."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port outside 0-65535)
    except ValueError:
        raise ValueError("not a valid URL (bad port: 0-65535)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")


def _opt_duration(v: Any) -> float | None:
    if v is None or v == "":
        return None
    return parse_duration(v)


_ASYNC_DRIVERS = (
    ("sqlite://", "sqlite+aiosqlite://"),
    ("postgresql://", "postgresql+asyncpg://"),
    ("postgres://", "postgresql+asyncpg://"),
)


def default_db_url() -> str:
    path = user_data_path("opsconsole", appauthor=False) / "opsconsole.db"
    return f"sqlite+aiosqlite:///{path}"


def default_config_path() -> Path:
    return user_config_path("opsconsole", appauthor=False) / "config.toml"


class LegacyBounceEnv(PydanticBaseSettingsSource):
    """The original monitor's ``BOUNCE_*`` variables, mapped onto our keys."""

    _THRESHOLDS: ClassVar[dict[str, str]] = {
        "BOUNCE_WARNING_THRESHOLD": "warning",
        "BOUNCE_CRITICAL_THRESHOLD": "critical",
        "BOUNCE_BLOCK_THRESHOLD": "block",
    }

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        th = {k: os.environ[e] for e, k in self._THRESHOLDS.items() if os.environ.get(e)}
        if th:
            out["monitor"] = {"thresholds": th}
        url = os.environ.get("BOUNCE_ALERT_WEBHOOK_URL")
        if url:
            out["_legacy_webhook"] = url
        return out


class AlertsSettings(_Strict):
    """``[alerts]``: storm control (see docs/notify.md)."""

    group_threshold: int = Field(10, ge=1)
    group_by: Literal["provider", "pool"] = "provider"


class SesWebhookSettings(_Strict):
    allowed_topics: list[str] = []  # TopicArns accepted; SES is served only when non-empty
    ip_by_config_set: dict[str, str] = {}  # configuration set (dedicated pool) -> sending IP
    subuser_by_config_set: dict[str, str] = {}
    ip_tags: list[str] = []  # message tags whose value is the sending IP
    window: Duration = 3600.0

    @model_validator(mode="after")
    def _ips(self) -> SesWebhookSettings:
        import ipaddress

        for cset, ip in self.ip_by_config_set.items():
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"ip_by_config_set.{cset}: {ip!r} is not an IP address") from None
        for arn in self.allowed_topics:
            if not arn.startswith("arn:aws:sns:"):
                raise ValueError(f"allowed_topics: {arn!r} is not an SNS TopicArn")
        return self


class WebhookSettings(_Strict):
    """``[webhooks]``: the ESP event receiver in the engine process (off by default)."""

    listen: str | None = None  # "127.0.0.1:8025"; TLS belongs to a reverse proxy in front
    sendgrid_public_key: SecretStr | None = None  # base64 DER, SendGrid's verification key
    mailgun_signing_key: SecretStr | None = None  # Mailgun's HTTP webhook signing key
    window: Duration = 300.0  # signed timestamps older than this are refused
    ses: SesWebhookSettings = SesWebhookSettings()
    # test-only: certificate and confirmation GETs go to this origin instead, AFTER the
    # strict https://sns.<region>.amazonaws.com/ check passed; verification is never skipped
    sns_test_origin: str | None = None

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str | None) -> str | None:
        if v is not None:
            host, sep, port = v.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"want HOST:PORT like 127.0.0.1:8025, got {v!r}")
        return v

    @field_validator("sendgrid_public_key")
    @classmethod
    def _key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            import base64
            import binascii

            try:
                base64.b64decode(v.get_secret_value(), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("not base64 (paste the key as SendGrid shows it)") from None
        return v

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be positive")
        return v


class MtaPostfixSettings(_Strict):
    pool_parameters: dict[str, str] = {}  # pool -> main.cf parameter, e.g. default_transport
    config_dir: str | None = None
    postconf: str = "postconf"
    reload_command: list[str] = Field(["postfix", "reload"], min_length=1)
    timeout: Duration = 30.0


class MtaPmtaSettings(_Strict):
    pools_file: str = "/etc/pmta/opsconsole-pools.conf"
    pmta: str = "pmta"
    reload_command: list[str] | None = None
    own_vmtas: dict[str, str] = {}
    timeout: Duration = 30.0
    command: list[str] | None = Field(None, min_length=1)  # disable/enable source prefix


class MtaKumoSettings(_Strict):
    sources_file: str = "/opt/kumomta/etc/policy/opsconsole-sources.toml"
    shaping_file: str = "/opt/kumomta/etc/policy/opsconsole-shaping.toml"
    base_url: str = "http://127.0.0.1:8000"
    provider_sites: dict[str, str] = {}
    ehlo_domains: dict[str, str] = {}


class MtaSettings(_Strict):
    kind: Literal["postfix", "pmta", "kumo"]
    min_interval: Duration = Field(10.0, ge=0)
    path: str | None = None  # PATH for the MTA commands (e.g. "/usr/sbin:/usr/bin")
    postfix: MtaPostfixSettings = MtaPostfixSettings()
    pmta: MtaPmtaSettings = MtaPmtaSettings()
    kumo: MtaKumoSettings = MtaKumoSettings()

    @model_validator(mode="after")
    def _has_target(self) -> MtaSettings:
        if self.kind == "postfix" and not self.postfix.pool_parameters:
            raise ValueError(
                '[mta] kind = "postfix" needs [mta.postfix] pool_parameters '
                '(e.g. { bulk = "default_transport" })'
            )
        return self


class ReputationZoneSettings(_Strict):
    """A custom DNSBL zone (``[[reputation.custom_zones]]``) or overrides of a catalogue zone
    (``[reputation.zone.NAME]``)."""

    name: str = ""
    label: str = ""
    lookup_url: str = ""
    on_listed: Literal["alert", "deprioritize", "remove"] | None = None
    severity: SeverityName | None = None
    codes: dict[str, str] = {}  # "127.0.0.2" = "meaning"


class ReputationSettings(_Strict):
    """``[reputation]``: DNSBL checks and Microsoft SNDS. Absent: no query ever leaves."""

    interval: Duration = 3600.0
    zones: list[str] = ["zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net"]
    custom_zones: list[ReputationZoneSettings] = []
    zone: dict[str, ReputationZoneSettings] = {}
    dqs_key: SecretStr | None = None
    nameservers: list[str] | None = None  # None: the system resolvers (production only)
    concurrency: int = Field(8, ge=1, le=256)
    rate: float = Field(5.0, gt=0)  # queries per second per zone
    timeout: Duration = 3.0  # per DNS lookup
    deadline: Duration = 60.0  # a whole run (DNSBL + SNDS), never longer
    snds_key: SecretStr | None = None
    snds_url: str = "https://sendersupport.olc.protection.outlook.com/snds/"
    snds_interval: Duration = 86400.0
    max_seen_ips: int = Field(500, ge=0, le=100_000)  # seen-only IPs checked: the busiest

    @model_validator(mode="after")
    def _zones_known(self) -> ReputationSettings:
        from opsconsole.core.reputation.zones import BUILTIN_ZONES

        custom = {z.name for z in self.custom_zones}
        if any(not z.name or not z.lookup_url for z in self.custom_zones):
            raise ValueError("reputation.custom_zones entries need name and lookup_url")
        unknown = [
            n for n in [*self.zones, *self.zone] if n not in BUILTIN_ZONES and n not in custom
        ]
        if unknown:
            raise ValueError(
                f"reputation.zones: unknown zone(s) {', '.join(unknown)}; known: "
                f"{', '.join(BUILTIN_ZONES)} (or define them in [[reputation.custom_zones]])"
            )
        for spec in self.nameservers or []:
            from opsconsole.core.dns import parse_nameserver

            try:
                parse_nameserver(spec)
            except ValueError:
                raise ValueError(f"reputation.nameservers: bad server {spec!r}") from None
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OPSCONSOLE_", env_nested_delimiter="__", extra="forbid"
    )

    db: str = Field(default_factory=default_db_url)
    monitor: MonitorSettings = MonitorSettings()
    sources: list[SourceSettings] = []
    pools: list[PoolSettings] = []
    warmup: WarmupSettings = WarmupSettings()
    warmups: list[WarmupDecl] = []
    notify: list[NotifySettings] = []
    alerts: AlertsSettings = AlertsSettings()
    actions: list[ActionSettings] = []
    retention: RetentionSettings = RetentionSettings()
    tui: TuiSettings = TuiSettings()
    metrics: MetricsSettings = MetricsSettings()
    webhooks: WebhookSettings = WebhookSettings()
    mta: MtaSettings | None = None
    reputation: ReputationSettings | None = None
    providers: ProvidersSection = ProvidersSection()
    host: str = Field(default_factory=lambda: os.uname().nodename)

    @field_validator("db")
    @classmethod
    def _async_driver(cls, v: str) -> str:
        """``sqlite:///PATH`` and ``postgresql://...`` (what other tools take) get the async
        driver opsconsole runs on; any other URL is used as given. A path is a usage error
        (exit 2), not a database that failed to open."""
        from opsconsole.core.redact import not_a_url

        if (why := not_a_url(v)) is not None:
            raise ValueError(why)
        for plain, driver in _ASYNC_DRIVERS:
            if v.startswith(plain):
                return driver + v[len(plain) :]
        return v

    @model_validator(mode="before")
    @classmethod
    def _legacy_webhook(cls, data: Any) -> Any:
        if isinstance(data, dict) and "_legacy_webhook" in data:
            data = dict(data)
            url = data.pop("_legacy_webhook")
            notify = list(data.get("notify") or [])
            if not any(_url_of(n) == url for n in notify):
                notify.append({"kind": "webhook", "url": url, "name": "BOUNCE_ALERT_WEBHOOK_URL"})
            data["notify"] = notify
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _TomlSource(settings_cls, _CONFIG_PATH.get())
        return (init_settings, LegacyBounceEnv(settings_cls), env_settings, toml)


def _url_of(n: Any) -> str | None:
    if isinstance(n, dict):
        u = n.get("url")
        return u.get_secret_value() if isinstance(u, SecretStr) else u
    return None


# The file load_settings is reading, for the TOML source it builds (scoped to the call).
_CONFIG_PATH: ContextVar[Path | None] = ContextVar("opsconsole_config_path", default=None)


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        return load_toml(self.path)


class ConfigError(Exception):
    """A bad config file or value; the message is the one line an operator sees."""


def load_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def resolve_config_path(explicit: str | Path | None) -> Path | None:
    """``--config``, then ``$OPSCONSOLE_CONFIG``, then the XDG path if that file exists."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("OPSCONSOLE_CONFIG")
    if env:
        return Path(env)
    p = default_config_path()
    return p if p.exists() else None


def _line_of(path: Path | None, loc: tuple[Any, ...]) -> int | None:
    """Best effort: the line of ``path`` where the last string key of ``loc`` is set."""
    if path is None:
        return None
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return None
    key = keys[-1]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if s.startswith(f"{key} ") or s.startswith(f"{key}=") or f"[{key}]" in s:
            return i
        if s.startswith("[") and s.rstrip("]").endswith(f".{key}"):  # [a.b.KEY] headers
            return i
        if f" {key} =" in s or f"{{ {key} =" in s or f", {key} =" in s:
            return i
    return None


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; raise :class:`ConfigError` with a one-line reason when bad."""
    from pydantic import ValidationError

    path = resolve_config_path(config)
    if path is not None and not path.exists():
        raise ConfigError(f"config file not found: {path}")
    token = _CONFIG_PATH.set(path)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err.get("loc", ()))
        key = ".".join(str(p) for p in loc) or "(top level)"
        where = ""
        line = _line_of(path, loc)
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        raise ConfigError(f"{where}{key}: {msg}") from None
    finally:
        _CONFIG_PATH.reset(token)


def redacted(settings: Settings) -> dict[str, Any]:
    """Settings as a plain dict with secrets (webhook URLs) shown as ``***``."""
    data = settings.model_dump(mode="json")
    for n, model in zip(data.get("notify", []), settings.notify, strict=True):
        if model.url is not None:
            n["url"] = redact_url(model.url.get_secret_value())
        if model.api_url:
            n["api_url"] = redact_url(model.api_url)
        for secret in ("password", "routing_key", "bot_token"):
            if n.get(secret) is not None:
                n[secret] = "***"
        if "from" in n:
            n["sender"] = n.pop("from")
    data["db"] = redact_url(data["db"])
    return data


__all__ = [
    "ConfigError",
    "EnvSettingsSource",
    "Settings",
    "load_settings",
    "redact_url",
    "redacted",
]
