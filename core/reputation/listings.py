"""DNSBL check report -> what the alert loop needs: listings to raise, listings that cleared.

Kept apart from the checker so it stays a pure function of (report, previously listed): the
engine remembers which (ip, zone) pairs have open alerts and feeds them back. A pair only
clears on a trustworthy "not listed" answer; a refused, failed or skipped lookup says nothing
about delisting, so it neither raises nor clears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opsconsole.core.alerts import AlertState
from opsconsole.core.reputation.dnsbl import CheckReport
from opsconsole.core.reputation.zones import AlertSeverity, OnListed, Zone
from opsconsole.core.rotation import MemberState

DNSBL_LISTED = "dnsbl_listed"


@dataclass(frozen=True, slots=True)
class ListingObservation:
    """An (ip, zone) listing. ``action`` is None for listings that never act (PBL)."""

    rule: str
    ip: str
    zone: str
    severity: AlertSeverity
    title: str
    message: str
    action: OnListed | None
    codes: tuple[str, ...]
    lookup_url: str


@dataclass(frozen=True, slots=True)
class DelistObservation:
    rule: str
    ip: str
    zone: str
    message: str


@dataclass(frozen=True, slots=True)
class ListingObservations:
    listed: tuple[ListingObservation, ...]
    cleared: tuple[DelistObservation, ...]


def listing_observations(
    report: CheckReport,
    zones: Mapping[str, Zone] | Iterable[Zone],
    previously_listed: Iterable[tuple[str, str]] = (),
) -> ListingObservations:
    """Listings in ``report`` and the ``(ip, zone)`` pairs of ``previously_listed`` that the
    report shows as definitely not listed any more."""
    by_name = dict(zones) if isinstance(zones, Mapping) else {z.name: z for z in zones}
    listed: list[ListingObservation] = []
    for r in report.results:
        if not r.listed or r.severity is None:
            continue
        zone = by_name.get(r.zone)
        label = zone.label if zone else r.zone
        url = zone.url_for(r.ip) if zone else ""
        meaning = "; ".join(dict.fromkeys(r.meanings))
        codes = ", ".join(r.codes)
        message = f"{r.ip} is listed on {label} ({r.zone}): {meaning} [{codes}]."
        if url:
            message += f" Delisting/lookup: {url}"
        listed.append(
            ListingObservation(
                rule=DNSBL_LISTED,
                ip=r.ip,
                zone=r.zone,
                severity=r.severity,
                title=f"{r.ip} listed on {label}",
                message=message,
                action=(zone.on_listed if zone else "alert") if r.acts else None,
                codes=r.codes,
                lookup_url=url,
            )
        )
    now_clear = {(r.ip, r.zone) for r in report.results if r.known and not r.listed}
    cleared = tuple(
        DelistObservation(DNSBL_LISTED, ip, zone, f"{ip} is no longer listed on {zone}")
        for ip, zone in dict.fromkeys(previously_listed)
        if (ip, zone) in now_clear
    )
    return ListingObservations(tuple(listed), cleared)


ACTING = ("deprioritize", "remove")
# What rotation.evaluate_member records when a listing acted (job.py's reason
# "listed on ZONE [codes]"); any later change of the member (an operator command, the
# bounce policy) rewrites it, which is how "the operator acted since" is told.
_ACTED = re.compile(r"^(?:deprioritized|removed): listed on (\S+) \[")


def listing_zone(member: MemberState) -> str | None:
    """The zone whose listing put ``member`` in its current state, or None."""
    if member.state not in ("deprioritized", "removed"):
        return None
    m = _ACTED.match(member.state_reason)
    return m.group(1) if m else None


def delisted_members(
    members: Iterable[MemberState],
    open_alerts: Iterable[AlertState],
    report: CheckReport,
    zones: Mapping[str, Zone] | Iterable[Zone],
) -> list[tuple[MemberState, str]]:
    """Members a listing acted on whose IP no acting zone lists any more: (member, the
    zone that acted). Restored only on a trustworthy answer from the zone that acted (a
    listing that no longer acts, such as PBL alone, is clear) and when no other acting zone
    with an open listing alert for the IP is unknown this run (refused, failed, dead)."""
    by_name = dict(zones) if isinstance(zones, Mapping) else {z.name: z for z in zones}
    results = {(r.ip, r.zone): r for r in report.results}
    acting_zones = {n for n, z in by_name.items() if z.on_listed in ACTING}
    open_on: dict[str, set[str]] = {}
    for a in open_alerts:
        if a.rule == DNSBL_LISTED and a.is_open:
            open_on.setdefault(a.ip, set()).add(a.key.split("|", 2)[2])
    out: list[tuple[MemberState, str]] = []
    for m in members:
        zone = listing_zone(m)
        if zone is None:
            continue
        clear = True
        for z in acting_zones | {zone}:
            r = results.get((m.ip, z))
            if r is not None and r.known:
                clear = clear and not (r.listed and r.acts)
            elif z == zone or z in open_on.get(m.ip, set()):
                clear = False  # no trustworthy answer where a listing is (or was) open
        if clear:
            out.append((m, zone))
    return out
