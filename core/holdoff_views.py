"""Hold-offs and removal expiries in the read model: ``holdoff_until`` /
``holdoff_seconds`` and ``reenable_at`` on each report IP row (one place: report, status
--format json through the report, the TUI)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opsconsole.core.engine.holdoffs import reads_of
from opsconsole.core.holdoff import HoldoffState, remaining
from opsconsole.core.notify.payload import iso_millis


def _iso(ts: float | None) -> str | None:
    return iso_millis(ts) if ts is not None else None


async def state_of(store: object) -> HoldoffState:
    reads = reads_of(store)
    return await reads.holdoff_state() if reads is not None else HoldoffState()


def annotate_ips(rows: list[dict[str, Any]], state: HoldoffState, now: float) -> None:
    """Add the hold-off and expiry columns to report IP rows (in place)."""
    annotate = annotator(state, now)
    for r in rows:
        annotate(r)


def annotator(state: HoldoffState, now: float) -> Callable[[dict[str, Any]], None]:
    """What adds the hold-off and expiry columns to one report IP row (in place; the
    streamed report's rows too). An IP in several pools shows the longest hold-off and the
    earliest expiry."""
    hold: dict[str, float] = {}
    for (_pool, ip), h in state.holdoffs.items():
        if remaining(h, now) is not None:
            hold[ip] = max(hold.get(ip, 0.0), h.until)
    expiry: dict[str, float] = {}
    for (_pool, ip), e in state.expiries.items():
        expiry[ip] = min(expiry.get(ip, e.until), e.until)

    def annotate(r: dict[str, Any]) -> None:
        until = hold.get(r["ip"])
        r["holdoff_until"] = _iso(until)
        r["holdoff_seconds"] = round(until - now) if until is not None else None
        r["reenable_at"] = _iso(expiry.get(r["ip"]))

    return annotate


def hold_label(row: Mapping[str, Any]) -> str:
    """``hold 27m`` for a row in hold-off, '' otherwise (the TUI's cell)."""
    from opsconsole.core.durations import format_duration

    seconds = row.get("holdoff_seconds")
    if not seconds or seconds <= 0:
        return ""
    return f"hold {format_duration(max(60.0, float(seconds)) // 60 * 60)}"


async def last_undoable(store: Any, ip: str, limit: int = 50) -> dict[str, Any] | None:
    """The newest audit entry of ``ip`` that ``undo`` can revert (the TUI's ``u``), or None.
    Whether it was undone already is the command's to say."""
    from opsconsole.core.engine.undo import INVERSES

    for entry in await store.audit_entries(ip=ip, limit=limit):
        if entry["action"] in INVERSES and "undo of " not in str(entry.get("reason") or ""):
            return dict(entry)
    return None
