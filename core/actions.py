"""What the engine does to an IP: the actions of the policy and of operators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Numbers = Mapping[str, float | int | str | None]

# Every action a hook can subscribe to (``[[actions]] on = [...]``).
ACTION_NAMES = (
    "remove",
    "restore",
    "deprioritize",
    "recover",
    "pause_warmup",
    "resume_warmup",
    "hold_warmup",
    "advance_warmup",
    "rollback_warmup",
    "complete_warmup",
    "suspend_provider",
    "resume_provider",
)


@dataclass(frozen=True, slots=True)
class Action:
    """Something the engine did or must do: audited, and run through the ``[[actions]]`` hooks.

    ``name`` is one of :data:`ACTION_NAMES`; ``reason`` is the human sentence with the
    numbers ("bounce 12.00% of 250 sent in 1h"); ``numbers`` the same as data for the audit
    log's detail. ``pool`` and ``subuser`` are ``''`` when none (as in the audit table).
    """

    name: str
    ip: str
    pool: str = ""
    subuser: str = ""
    reason: str = ""
    numbers: Numbers = field(default_factory=dict)
    actor: str = "engine"
    provider: str = ""  # suspend_provider / resume_provider: the provider it applies to
    domains: tuple[str, ...] = ()  # that provider's domains, for MTA commands and hooks
