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


class PoolMemberSettings(_Strict):
    ip: str
    weight: float = Field(100, ge=0)
    daily_cap: int | None = Field(None, ge=0)


class PoolSettings(_Strict):
    name: str
    members: list[PoolMemberSettings] = []


class ScheduleSettings(_Strict):
    stage_days: int = Field(7, ge=1)
    daily_quotas: list[int] = Field(min_length=1)


class WarmupSettings(_Strict):
    default_schedule: str = "six-week"
    auto_resume_after: Annotated[float | None, BeforeValidator(lambda v: _opt_duration(v))] = None
    schedules: dict[str, ScheduleSettings] = {}


class WarmupDecl(_Strict):
    ip: str
    pool: str | None = None
    schedule: str | None = None


class NotifySettings(_Strict):
    kind: Literal["webhook", "slack"]
    url: SecretStr
    name: str | None = None
    min_severity: SeverityName = "info"
    timeout: Duration = 10.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: SecretStr) -> SecretStr:
        check_http_url(v.get_secret_value())
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
    listen: str | None = None  # "127.0.0.1:9109" to serve /metrics

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
    actions: list[ActionSettings] = []
    retention: RetentionSettings = RetentionSettings()
    tui: TuiSettings = TuiSettings()
    metrics: MetricsSettings = MetricsSettings()
    host: str = Field(default_factory=lambda: os.uname().nodename)

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
        n["url"] = redact_url(model.url.get_secret_value())
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
