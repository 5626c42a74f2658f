"""One entry point that turns a notifier kind and its config into a notifier.

The settings layer parses ``[[notify]]`` tables into these frozen configs (core never sees
pydantic); ``build`` checks that the config matches the kind, so a wiring mistake fails at
start-up rather than at the first alert. The existing webhook and Slack notifiers live in
``sender`` and are merged in by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from opsconsole.core.notify.alertmanager import AlertmanagerConfig, AlertmanagerNotifier
from opsconsole.core.notify.common import NotifierConfig
from opsconsole.core.notify.email import EmailConfig, EmailNotifier
from opsconsole.core.notify.pagerduty import PagerDutyConfig, PagerDutyNotifier
from opsconsole.core.notify.payload import passes
from opsconsole.core.notify.sender import Notifier
from opsconsole.core.notify.telegram import TelegramConfig, TelegramNotifier

CONFIGS: dict[str, type[NotifierConfig]] = {
    "email": EmailConfig,
    "pagerduty": PagerDutyConfig,
    "alertmanager": AlertmanagerConfig,
    "telegram": TelegramConfig,
}
KINDS = tuple(CONFIGS)


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


def recipients_for(notifiers: Mapping[str, Notifier], body: Mapping[str, Any]) -> list[str]:
    """Names of the notifiers the notice ``body`` goes to, decided at enqueue time: a
    notifier with an ``accepts`` method (every kind here) applies its severity and filters;
    one without (webhook, Slack) is judged by ``min_severity`` alone, like
    ``sender.recipients``."""
    out: list[str] = []
    for name, n in notifiers.items():
        test = getattr(n, "accepts", None)
        ok = test(body) if callable(test) else passes(str(body.get("severity")), n.min_severity)
        if ok:
            out.append(name)
    return out


__all__ = ["CONFIGS", "KINDS", "build", "recipients_for"]
