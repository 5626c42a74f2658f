"""One entry point that turns a notifier kind and its config into a notifier.

The settings layer parses ``[[notify]]`` tables into these frozen configs (core never sees
pydantic); ``build`` checks that the config matches the kind, so a wiring mistake fails at
start-up rather than at the first alert. Webhook and Slack (``sender``) are in the same
registry: :func:`build_one` builds any ``core.config.NotifierConfig``, and
``sender.build_notifiers`` goes through it for every kind.

Which notices a kind takes beyond its filters: every kind gets firing, escalation and
resolved notices; ``acknowledged`` notices (an operator ack) go only to the kinds in
:data:`WANTS_ACKS`: PagerDuty (acknowledges the incident), Alertmanager (re-posts the
alert, still active) and the generic webhook (its consumers see the state). Email, Slack
and Telegram skip acks: a human already knows, and a page-like message for it is noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from opsconsole.core.config import NotifierConfig as NotifySpec
from opsconsole.core.notify.alertmanager import AlertmanagerConfig, AlertmanagerNotifier
from opsconsole.core.notify.common import NotifierConfig
from opsconsole.core.notify.common import accepts as _accepts
from opsconsole.core.notify.email import EmailConfig, EmailNotifier
from opsconsole.core.notify.pagerduty import PagerDutyConfig, PagerDutyNotifier
from opsconsole.core.notify.payload import passes
from opsconsole.core.notify.sender import Notifier, SlackNotifier, WebhookNotifier
from opsconsole.core.notify.telegram import TelegramConfig, TelegramNotifier

CONFIGS: dict[str, type[NotifierConfig]] = {
    "email": EmailConfig,
    "pagerduty": PagerDutyConfig,
    "alertmanager": AlertmanagerConfig,
    "telegram": TelegramConfig,
}
KINDS = tuple(CONFIGS)
ALL_KINDS = ("webhook", "slack", *KINDS)
WANTS_ACKS = frozenset({"pagerduty", "alertmanager", "webhook"})


def build(kind: str, config: NotifierConfig, client: httpx.AsyncClient) -> Notifier:
    """The notifier of ``kind`` for ``config``; HTTP kinds share ``client`` (email ignores
    it: SMTP opens its own connection per notice). ValueError for an unknown kind,
    TypeError when ``config`` is not that kind's config class."""
    expected = CONFIGS.get(kind)
    if expected is None:
        raise ValueError(f"unknown notifier kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(config, expected):
        raise TypeError(f"{kind} needs a {expected.__name__}, got {type(config).__name__}")
    if isinstance(config, EmailConfig):
        return EmailNotifier(config)
    if isinstance(config, PagerDutyConfig):
        return PagerDutyNotifier(config, client)
    if isinstance(config, AlertmanagerConfig):
        return AlertmanagerNotifier(config, client)
    if isinstance(config, TelegramConfig):
        return TelegramNotifier(config, client)
    raise AssertionError(kind)  # unreachable: CONFIGS and the branches above agree


def build_one(name: str, spec: NotifySpec, client: httpx.AsyncClient) -> Notifier:
    """The notifier named ``name`` for one ``[[notify]]`` table (any kind)."""
    n: Any
    if spec.kind in ("webhook", "slack"):
        cls = WebhookNotifier if spec.kind == "webhook" else SlackNotifier
        n = cls(name, spec.url, client, timeout=spec.timeout, min_severity=spec.min_severity)
    else:
        if spec.spec is None:
            raise ValueError(f"{name}: {spec.kind} notifier without its settings")
        n = build(spec.kind, spec.spec, client)  # type: ignore[arg-type]
        n.name = name
    n.gate = Gate.of(spec)
    return n


class Gate:
    """What a notifier takes, from its config alone (no client): severity, filters,
    acks, inhibition. The engine decides recipients with these at enqueue time."""

    def __init__(
        self,
        kind: str,
        min_severity: str,
        rules: tuple[str, ...] = (),
        pools: tuple[str, ...] = (),
        providers: tuple[str, ...] = (),
        inhibit: bool = False,
    ) -> None:
        self.kind = kind
        self.min_severity = min_severity
        self.filters = NotifierConfig(
            name=kind, min_severity=min_severity, rules=rules, pools=pools, providers=providers
        )
        self.inhibit = inhibit

    @classmethod
    def of(cls, spec: NotifySpec) -> Gate:
        return cls(
            spec.kind, spec.min_severity, spec.rules, spec.pools, spec.providers, spec.inhibit
        )

    def accepts(self, body: Mapping[str, Any]) -> bool:
        if body.get("transition") == "acknowledged" and self.kind not in WANTS_ACKS:
            return False
        return _accepts(self.filters, body)


def gates(specs: Iterable[NotifySpec]) -> dict[str, Gate]:
    """Gates by notifier name (``sender.named``): recipients without any client."""
    from opsconsole.core.notify.sender import named

    return {name: Gate.of(s) for name, s in named(specs).items()}


def recipients_for(notifiers: Mapping[str, Any], body: Mapping[str, Any]) -> list[str]:
    """Names of the notifiers the notice ``body`` goes to, decided at enqueue time: a
    notifier with an ``accepts`` method (every kind here) applies its severity and filters;
    one without (webhook, Slack) is judged by ``min_severity`` alone, like
    ``sender.recipients``."""
    out: list[str] = []
    for name, n in notifiers.items():
        if isinstance(n, str):  # a bare min_severity
            if passes(str(body.get("severity")), n):
                out.append(name)
            continue
        n = getattr(n, "gate", n)
        test = getattr(n, "accepts", None)
        ok = test(body) if callable(test) else passes(str(body.get("severity")), n.min_severity)
        if ok:
            out.append(name)
    return out


__all__ = [
    "ALL_KINDS",
    "CONFIGS",
    "KINDS",
    "WANTS_ACKS",
    "Gate",
    "build",
    "build_one",
    "gates",
    "recipients_for",
]
