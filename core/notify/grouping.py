"""Storm control: when one check opens many alerts at one provider (or pool), send one notice.

A provider block (Microsoft refusing 40 of our IPs at once) opens 40 alerts in one check;
40 pages say nothing the first did not. :func:`group_notices` folds the notices of one check
into one grouped notice per ``(group key, rule, state)`` when that group has more than
``threshold`` members; smaller groups, and notices without the group field, pass unchanged.

Identity. Every alert keeps its own id and its own later transitions (an ack or resolve of
one IP is still its own notice). A grouped notice is a webhook body like any other, with:

- ``alert_id`` = ``group:<group_by>:<key>:<rule>``: stable for the group, so PagerDuty gets
  ONE trigger with that as ``dedup_key``, and a second storm at the same provider lands on
  the same incident instead of paging again;
- ``alert_ids``: the members, sorted; ``count``; ``grouped: true``;
- ``severity`` the highest of its members; ``notice_id`` derived from the members' own
  notice ids (or alert id + transition), so a rebuilt group has the same id.

The group incident ends when its members resolve: resolved notices of one check group the
same way (same ``alert_id``, ``state: resolved``), and :func:`resolved_groups` tells the
engine which earlier groups have no open member left, so it can enqueue
:func:`group_resolved_notice` for stragglers that resolved over several checks.

Inhibition (opt-in, :func:`inhibited`): an IP-level notice is held back while a pool-wide
incident for its pool is open; resolved notices always pass, so nothing stays open
downstream because its resolve was swallowed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

from opsconsole.core.notify.common import max_severity

GroupBy = Literal["provider", "pool"]
DEFAULT_THRESHOLD = 10
_LIST_LIMIT = 100  # members named in a grouped message; the rest are counted


def group_id(group_by: str, key: str, rule: str) -> str:
    """The stable ``alert_id`` of a group."""
    return f"group:{group_by}:{key}:{rule}"


def _member_key(body: Mapping[str, Any]) -> str:
    notice = body.get("notice_id")
    if notice:
        return str(notice)
    return f"{body.get('alert_id')}:{body.get('transition') or body.get('state')}"


def _title(count: int, rule: str, severity: str, state: str, key: str) -> str:
    if state == "resolved":
        return f"{count} IPs recovered at {key} ({rule})"
    if severity == "critical" and "bounce" in rule:
        return f"{count} IPs blocked at {key}"
    return f"{count} IPs alerting at {key} ({rule}, {severity})"


def _line(body: Mapping[str, Any]) -> str:
    who = str(body.get("ip") or body.get("alert_id") or "?")
    if body.get("subuser"):
        who += f" ({body['subuser']})"
    value = body.get("value")
    rate = f" {value * 100:.2f}%" if isinstance(value, int | float) else ""
    return f"- {who}{rate} [{body.get('severity', 'info')}]"


def _grouped(
    members: Sequence[Mapping[str, Any]], group_by: str, key: str, rule: str, state: str
) -> dict[str, Any]:
    severity = max_severity(str(m.get("severity") or "info") for m in members)
    first = members[0]
    ordered = sorted(members, key=lambda m: str(m.get("ip") or m.get("alert_id") or ""))
    lines = [_line(m) for m in ordered[:_LIST_LIMIT]]
    if len(ordered) > _LIST_LIMIT:
        lines.append(f"... and {len(ordered) - _LIST_LIMIT} more")
    title = _title(len(members), rule, severity, state, key)
    ids = sorted(str(m.get("alert_id")) for m in members)
    digest = hashlib.sha256("\n".join(sorted(_member_key(m) for m in members)).encode())
    gid = group_id(group_by, key, rule)
    values = [m["value"] for m in members if isinstance(m.get("value"), int | float)]
    body: dict[str, Any] = {
        "severity": severity,
        "title": title,
        "message": f"{title}:\n" + "\n".join(lines),
        "timestamp": first.get("timestamp"),
        "service": first.get("service"),
        "alert_id": gid,
        "notice_id": f"{gid}:{digest.hexdigest()[:16]}",
        "state": state,
        "ip": None,
        "subuser": None,
        "rule": rule,
        "value": max(values) if values else None,
        "sent": sum(int(m.get("sent") or 0) for m in members),
        "window_seconds": first.get("window_seconds"),
        group_by: key,
        "grouped": True,
        "group_by": group_by,
        "count": len(members),
        "alert_ids": ids,
    }
    other = "pool" if group_by == "provider" else "provider"
    others = {m.get(other) for m in members}
    if len(others) == 1 and None not in others:
        body[other] = others.pop()
    transitions = {m.get("transition") for m in members}
    if len(transitions) == 1 and None not in transitions:
        body["transition"] = transitions.pop()
    opened = [m["opened_at"] for m in members if m.get("opened_at") is not None]
    if opened:
        body["opened_at"] = min(opened, key=str)
    if first.get("host"):
        body["host"] = first["host"]
    return body


def _state(body: Mapping[str, Any]) -> str:
    return "resolved" if body.get("state") == "resolved" else str(body.get("state") or "firing")


def group_notices(
    notices: Sequence[Mapping[str, Any]],
    threshold: int = DEFAULT_THRESHOLD,
    group_by: GroupBy = "provider",
) -> list[dict[str, Any]]:
    """The notices to enqueue for one check, in first-seen order of their groups.

    A group with more than ``threshold`` members becomes one notice at the position of its
    first member; all other notices are returned as they came (copies).
    """
    if group_by not in ("provider", "pool"):
        raise ValueError(f"group_by must be provider or pool, not {group_by!r}")
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for n in notices:
        key = n.get(group_by)
        if key:
            groups.setdefault((str(key), str(n.get("rule") or ""), _state(n)), []).append(n)
    out: list[dict[str, Any]] = []
    emitted: set[tuple[str, str, str]] = set()
    for n in notices:
        key = n.get(group_by)
        gk = (str(key), str(n.get("rule") or ""), _state(n))
        if not key or len(groups[gk]) <= threshold:
            out.append(dict(n))
        elif gk not in emitted:
            emitted.add(gk)
            out.append(_grouped(groups[gk], group_by, *gk))
    return out


def resolved_groups(
    groups: Mapping[str, Iterable[str]], open_alert_ids: Collection[str]
) -> list[str]:
    """Ids of the groups (group id -> member alert ids, as sent in ``alert_ids``) none of
    whose members is still open: their grouped incident can be resolved."""
    return sorted(
        g for g, members in groups.items() if not any(m in open_alert_ids for m in members)
    )


def group_resolved_notice(grouped: Mapping[str, Any], timestamp: str) -> dict[str, Any]:
    """The resolved notice closing an earlier grouped notice whose members all recovered."""
    key = str(grouped.get(str(grouped.get("group_by") or "provider")) or "")
    title = f"{grouped.get('count', 0)} IPs recovered at {key} ({grouped.get('rule')})"
    body = dict(grouped)
    body.update(
        state="resolved",
        transition="resolved",
        title=title,
        message=title,
        timestamp=timestamp,
        resolved_at=timestamp,
        notice_id=f"{grouped.get('alert_id')}:resolved:{timestamp}",
    )
    return body


def inhibited(body: Mapping[str, Any], open_pool_incidents: Collection[str]) -> bool:
    """Whether to hold back ``body``: an IP-level, unresolved notice whose ``pool`` has an
    open pool-wide incident. Pool-level notices (no ``ip``) are never inhibited."""
    if not body.get("ip") or body.get("state") == "resolved":
        return False
    pool = body.get("pool")
    return bool(pool) and str(pool) in open_pool_incidents


__all__ = [
    "DEFAULT_THRESHOLD",
    "GroupBy",
    "group_id",
    "group_notices",
    "group_resolved_notice",
    "inhibited",
    "resolved_groups",
]
