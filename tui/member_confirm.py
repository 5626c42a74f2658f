"""The text of the remove/restore confirm dialog (``x``): the IP's current rates and, for a
restore, the hold-off it starts (core.holdoff), so the operator knows the engine will hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opsconsole.core.durations import format_duration
from opsconsole.core.holdoff_views import hold_label


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def member_confirm(
    ip: str,
    pool: str,
    member: Mapping[str, Any],
    ip_row: Mapping[str, Any] | None,
    holdoff: float,
    others: Sequence[str] = (),
) -> tuple[str, str, str, str]:
    """(title, body, ok label, verb) for removing or restoring ``ip`` in ``pool``."""
    restore = member["state"] == "removed"
    title = f"{'Restore' if restore else 'Remove'} {ip} {'to' if restore else 'from'} pool {pool}?"
    body = f"Now {member['state']}, weight {member['weight']:g}/{member['base_weight']:g}."
    if ip_row is not None:
        body += (
            f" Bounce {_pct(ip_row.get('bounce_rate'))} of {ip_row.get('sent', 0)} sent,"
            f" complaints {_pct(ip_row.get('complaint_rate'))}."
        )
        held = hold_label(ip_row)
        if held:
            body += f" In {held.replace('hold', 'hold-off,')} left."
    if restore:
        body += " It gets its base weight back"
        body += (
            f" and a {format_duration(holdoff)} hold-off: the engine alerts but does not"
            " remove it again unless the rate gets clearly worse."
            if holdoff > 0
            else "."
        )
    else:
        body += " It gets no traffic from this pool until restored."
    if others:
        body += f" (Also in {', '.join(others)}: use the Pools panel.)"
    return (
        title,
        body,
        "Restore" if restore else "Remove",
        "pool.restore" if restore else "pool.remove",
    )


def undo_confirm(entry: Mapping[str, Any]) -> tuple[str, str]:
    """(title, body) of the ``u`` dialog for audit entry ``entry``."""
    who = entry.get("actor") or "?"
    title = f"Undo action {entry['id']}: {entry['action']} {entry['ip']}?"
    body = f"By {who}: {entry.get('reason') or entry['action']}."
    if entry["action"] in ("remove", "deprioritize"):
        body += " Undoing it restores the IP and starts the restore's hold-off."
    return title, body
