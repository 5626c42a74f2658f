"""Domain types shared by every layer: delivery events and the clock."""

from __future__ import annotations

import time
from enum import IntEnum
from typing import NamedTuple, Protocol


class Kind(IntEnum):
    """What happened to one recipient. Values are stable: they index bucket counters."""

    DELIVERED = 0
    BOUNCED = 1
    DEFERRED = 2
    COMPLAINED = 3


class Event(NamedTuple):
    """One delivery outcome for one recipient, attributed (or not) to a sending IP.

    A NamedTuple rather than a dataclass: parsers make one per log line on the hot path,
    and tuple construction is the cheapest typed record Python has.
    """

    ts: float  # unix seconds, UTC
    kind: Kind
    ip: str | None  # sending IP; None when the line names none and the map has no entry
    subuser: str | None = None  # PowerMTA vmta, KumoMTA tenant, ESP sub-account
    hard: bool = False  # bounces only: a list problem (bad mailbox/domain), see classify
    rcpt_domain: str = ""
    status: str = ""  # enhanced status code, e.g. "5.1.1"
    diag: str = ""  # remote diagnostic text, for bounce samples
    category: str = ""  # the MTA's own bounce class: PowerMTA bounceCat, KumoMTA
    # bounce_classification (passed through as written; empty when the line has none)
    provider: str = ""  # KumoMTA provider_name (the mailbox provider), empty otherwise


class Clock(Protocol):
    def __call__(self) -> float:
        """Unix seconds now."""
        ...


def system_clock() -> float:
    return time.time()
