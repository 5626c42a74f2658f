"""What a rendered file holds, as a correct parser must count it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsconsole.core.events import Kind


@dataclass
class Counts:
    delivered: int = 0
    bounced: int = 0
    hard: int = 0
    soft: int = 0
    deferred: int = 0
    complaints: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "bounced": self.bounced,
            "hard": self.hard,
            "soft": self.soft,
            "deferred": self.deferred,
            "complaints": self.complaints,
        }


@dataclass
class Truth:
    """Exactly what a file (or a live feed) holds, as a correct parser must count it.

    ``tally`` maps (ip, subuser, kind, hard) -> count, where ip/subuser are what the line
    yields after attribution through the format's ``ip_map`` (None when it cannot be
    attributed) and subuser is the vmta (pmta), tenant (kumo, jsonl) or None (postfix).
    ``skipped`` counts events the format cannot express (complaints in Postfix logs).
    """

    format: str
    ip_map: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    tally: dict[tuple[str | None, str | None, int, bool], int] = field(default_factory=dict)
    skipped: int = 0
    # The same events by recipient domain too: (ip, subuser, kind, hard, domain) -> count.
    by_domain: dict[tuple[str | None, str | None, int, bool, str], int] = field(
        default_factory=dict
    )

    @property
    def events(self) -> int:
        return sum(self.tally.values())

    def _group(self, key: Callable[[str | None, str | None], Any]) -> dict[Any, Counts]:
        out: dict[Any, Counts] = {}
        for (ip, sub, kind, hard), v in self.tally.items():
            k = key(ip, sub)
            c = out.get(k)
            if c is None:
                c = out[k] = Counts()
            _add(c, kind, hard, v)
        return out

    @property
    def per_ip(self) -> dict[str, Counts]:
        """Attributed counts per IP (sorted by IP)."""
        g = self._group(lambda ip, _sub: ip)
        return {ip: g[ip] for ip in sorted(k for k in g if k is not None)}

    @property
    def unattributed(self) -> Counts:
        """Counts of events whose line names no IP that the map resolves."""
        return self._group(lambda ip, _sub: ip).get(None, Counts())

    @property
    def totals(self) -> Counts:
        return self._group(lambda _ip, _sub: None).get(None, Counts())

    def per_key(self) -> dict[tuple[str | None, str | None], Counts]:
        """Counts per (ip, subuser), the engine's monitored key."""
        g = self._group(lambda ip, sub: (ip, sub))
        return {k: g[k] for k in sorted(g, key=lambda k: (k[0] or "", k[1] or ""))}

    def per_provider(
        self, provider_of: Callable[[str], str] | None = None
    ) -> dict[tuple[str | None, str | None, str], Counts]:
        """Counts per (ip, subuser, provider): the report's ``providers`` rows. The provider
        of each recipient domain the simulator chose, by the built-in table unless
        ``provider_of`` is given; no domain is provider ''."""
        if provider_of is None:
            from opsconsole.core.providers import ProviderTable

            provider_of = ProviderTable().provider_of
        out: dict[tuple[str | None, str | None, str], Counts] = {}
        for (ip, sub, kind, hard, dom), v in self.by_domain.items():
            k = (ip, sub, provider_of(dom) if dom else "")
            c = out.get(k)
            if c is None:
                c = out[k] = Counts()
            _add(c, kind, hard, v)
        return {k: out[k] for k in sorted(out, key=lambda k: (k[0] or "", k[1] or "", k[2]))}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: per-IP counts, unattributed, totals, and the map used."""
        return {
            "format": self.format,
            "lines": self.lines,
            "events": self.events,
            "skipped": self.skipped,
            "per_ip": {ip: c.as_dict() for ip, c in self.per_ip.items()},
            "unattributed": self.unattributed.as_dict(),
            "totals": self.totals.as_dict(),
            "per_key": [
                {"ip": ip, "subuser": sub, **c.as_dict()} for (ip, sub), c in self.per_key().items()
            ],
            "ip_map": dict(self.ip_map),
            "per_provider": [
                {"ip": ip, "subuser": sub, "provider": prov, **c.as_dict()}
                for (ip, sub, prov), c in self.per_provider().items()
            ],
        }


def _add(c: Counts, kind: int, hard: bool, v: int) -> None:
    if kind == Kind.DELIVERED:
        c.delivered += v
    elif kind == Kind.BOUNCED:
        c.bounced += v
        if hard:
            c.hard += v
        else:
            c.soft += v
    elif kind == Kind.DEFERRED:
        c.deferred += v
    elif kind == Kind.COMPLAINED:
        c.complaints += v
