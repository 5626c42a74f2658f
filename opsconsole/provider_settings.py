"""``[providers]``: the mailbox-provider dimension's settings (spec 11, docs/providers.md).

Validated here so ``config check`` names the key and the line of a bad value: an override for
a provider nobody defined, a domain pattern the table refuses, a signature whose regex does
not compile, a nameserver that is not ``host[:port]``. Built into ``core.provider_policy.
ProvidersConfig`` by :func:`providers_config` (called from opsconsole/wiring.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as _VE
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsconsole.core.durations import parse_duration

if TYPE_CHECKING:
    from opsconsole.core.provider_policy import ProvidersConfig

Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderPolicySettings(_Strict):
    """``[providers.policy.NAME]``: this provider's thresholds over the IP-wide ones."""

    min_sample: int | None = Field(None, ge=1)
    warning: float | None = Field(None, ge=0, le=1)
    critical: float | None = Field(None, ge=0, le=1)
    block: float | None = Field(None, ge=0, le=1)


class SignatureSettings(_Strict):
    """``[[providers.signatures]]``: an operator's own "blocked here" response."""

    id: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    kind: Literal["block", "throttle", "blocklist", "auth"] = "block"
    provider: str = "any"
    meaning: str = ""
    trigger: str = ""

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v, re.IGNORECASE | re.DOTALL)
        except re.error as e:
            raise ValueError(f"bad regex: {e}") from None
        return v


def _error(loc: tuple[str | int, ...], msg: str, value: Any) -> _VE:
    err = PydanticCustomError("providers", msg.replace("{", "{{").replace("}", "}}"))
    return _VE.from_exception_data(
        "ProvidersSection", [InitErrorDetails(type=err, loc=loc, input=value)]
    )


class ProvidersSection(_Strict):
    enabled: bool = True
    reenable_after: Duration = Field(6 * 3600.0, gt=0)  # a provider suspension's length
    signature_threshold: int = Field(5, ge=1)
    signature_window: Duration = Field(600.0, ge=60)
    domains: dict[str, list[str]] = {}  # provider -> extra domain patterns
    mx: dict[str, list[str]] = {}  # provider -> extra MX host suffixes (for mx_rollup)
    policy: dict[str, ProviderPolicySettings] = {}
    signatures: list[SignatureSettings] = []
    mx_rollup: bool = False
    nameservers: list[str] | None = None  # None: the system resolvers (production only)
    mx_cache_ttl: Duration = Field(86400.0, gt=0)
    mx_error_ttl: Duration = Field(300.0, gt=0)
    mx_timeout: Duration = Field(3.0, gt=0)
    metrics_top: int = Field(10, ge=0, le=1000)  # providers named in metrics; the rest `other`

    @field_validator("nameservers")
    @classmethod
    def _nameservers(cls, v: list[str] | None) -> list[str] | None:
        import ipaddress

        from opsconsole.core.dns import parse_nameserver

        for spec in v or ():
            try:
                host, port = parse_nameserver(spec)
                ipaddress.ip_address(host)
                ok = 0 < port < 65536
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"bad nameserver {spec!r} (want IP, IP:port or [IPv6]:port)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ProvidersSection:
        from opsconsole.core.providers import ProviderTable

        for name, pats in self.domains.items():
            try:
                ProviderTable({name: pats})
            except ValueError as e:
                raise _error(("domains", name), str(e), pats) from None
        for name, pats in self.mx.items():
            try:
                ProviderTable(extra_mx={name: pats})
            except ValueError as e:
                raise _error(("mx", name), str(e), pats) from None
        known = set(ProviderTable(self.domains).providers())
        for name, pol in self.policy.items():
            if name.lower() not in known:
                raise _error(
                    ("policy", name),
                    f"unknown provider {name!r} (known: {', '.join(sorted(known))})",
                    name,
                )
            t = [x for x in (pol.warning, pol.critical, pol.block) if x is not None]
            if t != sorted(t):
                raise _error(("policy", name), "must satisfy warning <= critical <= block", name)
        for i, sig in enumerate(self.signatures):
            if sig.provider.lower() != "any" and sig.provider.lower() not in known:
                raise _error(
                    ("signatures", i, "provider"), f"unknown provider {sig.provider!r}", sig.id
                )
        return self


def providers_config(p: ProvidersSection) -> ProvidersConfig:
    """``[providers]`` as the engine's frozen config."""
    from opsconsole.core.provider_policy import ProvidersConfig
    from opsconsole.core.providers import ProviderPolicy

    sigs = tuple(
        {k: v for k, v in s.model_dump().items() if v != "" or k in ("id", "pattern")}
        for s in p.signatures
    )
    return ProvidersConfig(
        enabled=p.enabled,
        policies={
            name.lower(): ProviderPolicy(pol.min_sample, pol.warning, pol.critical, pol.block)
            for name, pol in p.policy.items()
        },
        reenable_after=p.reenable_after,
        signature_threshold=p.signature_threshold,
        signature_window=p.signature_window,
        extra_domains={k.lower(): tuple(v) for k, v in p.domains.items()},
        extra_mx={k.lower(): tuple(v) for k, v in p.mx.items()},
        signatures=sigs,
        mx_rollup=p.mx_rollup,
        metrics_top=p.metrics_top,
        mx_nameservers=tuple(p.nameservers) if p.nameservers is not None else None,
        mx_cache_ttl=p.mx_cache_ttl,
        mx_error_ttl=p.mx_error_ttl,
        mx_timeout=p.mx_timeout,
    )


def provider_services(config: ProvidersConfig, clock: Any = None) -> list[Any]:
    """The MX rollup service when ``[providers] mx_rollup = true``, else nothing."""
    if not (config.enabled and config.mx_rollup):
        return []
    from opsconsole.core.dns import Resolver
    from opsconsole.core.engine.mx_service import MxRollupService
    from opsconsole.core.events import system_clock

    ns = list(config.mx_nameservers) if config.mx_nameservers is not None else None
    return [MxRollupService(config, Resolver(ns, config.mx_timeout), clock or system_clock)]
