"""The reputation read model: report sections, the CLI table, the TUI column and timeline.

Reads go through :class:`ReputationReads` (``storage/reputation.py``), reached as
``store.reputation()``; a store without it (an old or fake one) shows empty sections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from opsconsole.core.notify.payload import iso_millis

Row = dict[str, Any]


class ReputationReads(Protocol):
    async def results(self, ip: str | None = None) -> list[Row]: ...

    async def snds_rows(self, ip: str | None = None, limit: int = 1000) -> list[Row]: ...

    async def health(self) -> list[Row]: ...

    async def changes(self, ip: str, since: float) -> list[Row]: ...


def reads_of(store: Any) -> ReputationReads | None:
    get = getattr(store, "reputation", None)
    return get() if callable(get) else None


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso_millis(ts)


def result_row(r: Mapping[str, Any]) -> Row:
    return {
        "ip": r["ip"],
        "zone": r["zone"],
        "listed": bool(r["listed"]),
        "code": r["code"] or None,
        "meaning": r["meaning"] or None,
        "severity": r["severity"],
        "refused": bool(r["refused"]),
        "error": r["error"],
        "checked_at": _iso(r["checked_at"]),
    }


def snds_row(r: Mapping[str, Any]) -> Row:
    return {
        "ip": r["ip"],
        "day": r["day"],
        "filter": r["filter"],
        "complaint_rate": r["complaint_rate"],
        "trap_hits": r["trap_hits"],
        "rcpt": r["rcpt"],
        "data": r["data"],
        "recipients": r["recipients"],
        "activity_start": r["activity_start"],
        "activity_end": r["activity_end"],
        "blocked": bool(r["blocked"]),
        "provider": "microsoft",
    }


def health_row(r: Mapping[str, Any]) -> Row:
    return {
        "zone": r["zone"],
        "state": r["state"],
        "reason": r["reason"],
        "checked_at": _iso(r["checked_at"]),
    }


async def reputation_sections(store: Any, ip: str | None = None) -> dict[str, Any]:
    """``reputation``, ``snds`` and ``reputation_health`` for the report (empty when off)."""
    reads = reads_of(store)
    if reads is None:
        return {"reputation": [], "snds": [], "reputation_health": []}
    return {
        "reputation": [result_row(r) for r in await reads.results(ip)],
        "snds": [snds_row(r) for r in await reads.snds_rows(ip)],
        "reputation_health": [health_row(r) for r in await reads.health()],
    }


def listed_zones(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """ip -> the short names of the zones listing it ("zen", "spamcop")."""
    out: dict[str, list[str]] = {}
    for r in rows:
        if r["listed"]:
            out.setdefault(r["ip"], []).append(short_zone(r["zone"]))
    return out


def short_zone(zone: str) -> str:
    known = {"zen.spamhaus.org": "zen", "b.barracudacentral.org": "barracuda",
             "bl.spamcop.net": "spamcop", "bl.mailspike.net": "mailspike",
             "psbl.surriel.com": "psbl", "dnsbl-1.uceprotect.net": "uceprotect"}  # fmt: skip
    return known.get(zone, zone.split(".")[0])


def reputation_label(zones: Sequence[str]) -> str:
    """The IPs panel cell: ``listed: zen, spamcop`` or ``-``."""
    return f"listed: {', '.join(zones)}" if zones else "-"


def zone_status_row(r: Mapping[str, Any]) -> Row:
    """One zone (or ``snds``, or ``reputation`` for the run itself) in ``status``."""
    return {
        "zone": r["zone"],
        "state": r["state"],
        "reason": r["reason"],
        "checked_at": _iso(r["checked_at"]),
        "lookups": int(r.get("lookups") or 0),
        "failures": int(r.get("failures") or 0),
        "last_ok_at": _iso(r.get("last_ok_at")),
        "last_error": r.get("last_error"),
    }


async def zone_status(store: Any) -> list[Row]:
    """The health rows of the reputation job ([] when it never ran or is off)."""
    reads = reads_of(store)
    return [] if reads is None else [zone_status_row(r) for r in await reads.health()]
