"""The DNSBL zone catalogue: what each zone's answers mean and what a listing should do.

An answer code only means something in the context of its zone (127.0.0.4 is XBL at Spamhaus
and just "listed" elsewhere), and not every listing is a problem: Spamhaus PBL lists dynamic
address space by policy, so it is informational and never acts. The operator picks zones by
name, adds private ones and overrides ``on_listed``/severity per zone; a Spamhaus DQS key
moves ZEN queries to ``KEY.zen.dq.spamhaus.net`` (public resolvers are refused by ZEN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

AlertSeverity = Literal["info", "warning", "critical"]
OnListed = Literal["alert", "deprioritize", "remove"]
SEVERITY_RANK: Mapping[str, int] = MappingProxyType({"info": 0, "warning": 1, "critical": 2})


@dataclass(frozen=True, slots=True)
class Code:
    """The meaning of one answer address. ``acts`` False: reported, never acted upon."""

    meaning: str
    severity: AlertSeverity = "warning"
    acts: bool = True


def _codes(entries: Mapping[str, Code]) -> Mapping[str, Code]:
    return MappingProxyType(dict(entries))


@dataclass(frozen=True, slots=True)
class Zone:
    """A blocklist. ``name`` identifies it in config, alerts and reports; ``query_zone`` is
    where queries go (differs only with a DQS key, which must not show up in messages).
    ``unknown`` is the meaning of a 127.x answer missing from ``codes``."""

    name: str
    label: str
    lookup_url: str  # delisting/lookup page; "{ip}" is replaced by the address
    codes: Mapping[str, Code] = field(default_factory=lambda: _codes({}))
    on_listed: OnListed = "alert"
    unknown: Code = Code("listed")
    query_zone: str = ""

    @property
    def queried(self) -> str:
        return self.query_zone or self.name

    def meaning(self, answer: str) -> Code:
        return self.codes.get(answer, self.unknown)

    def url_for(self, ip: str) -> str:
        return self.lookup_url.replace("{ip}", ip)


@dataclass(frozen=True, slots=True)
class ZoneOverride:
    """Operator changes to a known zone; None keeps the built-in value."""

    on_listed: OnListed | None = None
    severity: AlertSeverity | None = None  # applies to every acting code of the zone


ZEN = "zen.spamhaus.org"
DQS_ZEN = "zen.dq.spamhaus.net"
_XBL = Code("XBL: exploited host (botnet, open proxy)", "critical")
_PBL = Code("PBL: policy listing of dynamic/end-user space", "info", acts=False)
BUILTIN_ZONES: Mapping[str, Zone] = MappingProxyType(
    {
        ZEN: Zone(
            ZEN,
            "Spamhaus ZEN",
            "https://check.spamhaus.org/listed/?searchterm={ip}",
            _codes(
                {
                    "127.0.0.2": Code("SBL: Spamhaus Block List (spam source)", "critical"),
                    "127.0.0.3": Code("SBL CSS: snowshoe/low-reputation sending", "critical"),
                    "127.0.0.4": _XBL,
                    "127.0.0.5": _XBL,
                    "127.0.0.6": _XBL,
                    "127.0.0.7": _XBL,
                    "127.0.0.9": Code("DROP: hijacked or criminal netblock", "critical"),
                    "127.0.0.10": _PBL,
                    "127.0.0.11": _PBL,
                }
            ),
            on_listed="deprioritize",
        ),
        "b.barracudacentral.org": Zone(
            "b.barracudacentral.org",
            "Barracuda BRBL",
            "https://www.barracudacentral.org/lookups/lookup-reputation?ip={ip}",
            _codes({"127.0.0.2": Code("Barracuda reputation: poor", "critical")}),
        ),
        "bl.spamcop.net": Zone(
            "bl.spamcop.net",
            "SpamCop",
            "https://www.spamcop.net/bl.shtml?{ip}",
            _codes({"127.0.0.2": Code("SpamCop: reported spam source", "warning")}),
        ),
        "bl.mailspike.net": Zone(
            "bl.mailspike.net",
            "Mailspike BL",
            "https://mailspike.org/iplookup.html?ip={ip}",
            _codes({"127.0.0.2": Code("Mailspike: spam source", "warning")}),
        ),
        "psbl.surriel.com": Zone(
            "psbl.surriel.com",
            "PSBL",
            "https://psbl.org/listing?ip={ip}",
            _codes({"127.0.0.2": Code("PSBL: spamtrap hits", "warning")}),
        ),
        "dnsbl-1.uceprotect.net": Zone(
            "dnsbl-1.uceprotect.net",
            "UCEPROTECT level 1",
            "https://www.uceprotect.net/en/rblcheck.php?ipr={ip}",
            _codes({"127.0.0.2": Code("UCEPROTECT-1: single IP listed", "warning")}),
            unknown=Code("listed", "warning"),
        ),
    }
)
DEFAULT_ZONES: tuple[str, ...] = (ZEN, "b.barracudacentral.org", "bl.spamcop.net")


def _override(zone: Zone, override: ZoneOverride) -> Zone:
    if override.on_listed is not None:
        zone = replace(zone, on_listed=override.on_listed)
    if override.severity is not None:
        sev = override.severity
        codes = {k: (replace(c, severity=sev) if c.acts else c) for k, c in zone.codes.items()}
        zone = replace(zone, codes=_codes(codes), unknown=replace(zone.unknown, severity=sev))
    return zone


def build_zones(
    names: Sequence[str] = DEFAULT_ZONES,
    *,
    extra: Sequence[Zone] = (),
    overrides: Mapping[str, ZoneOverride] | None = None,
    dqs_key: str | None = None,
) -> tuple[Zone, ...]:
    """The zones to check, in ``names`` order: built-ins by name, then ``extra`` zones
    (operator-defined; an extra zone with a built-in's name replaces it). Unknown names with
    no definition raise ``ValueError`` (a config error, caught at load)."""
    defined = dict(BUILTIN_ZONES)
    defined.update({z.name: z for z in extra})
    wanted = list(dict.fromkeys([*names, *(z.name for z in extra)]))
    missing = [n for n in wanted if n not in defined]
    if missing:
        raise ValueError(f"unknown DNSBL zone(s) {', '.join(missing)}: define them in config")
    zones: list[Zone] = []
    for name in wanted:
        zone = defined[name]
        if overrides and name in overrides:
            zone = _override(zone, overrides[name])
        if name == ZEN and dqs_key:
            zone = replace(zone, query_zone=f"{dqs_key}.{DQS_ZEN}")
        zones.append(zone)
    return tuple(zones)
