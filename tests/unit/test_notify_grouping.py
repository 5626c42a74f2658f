"""Storm control and inhibition (core/notify/grouping.py): pure functions of notice bodies."""

from __future__ import annotations

from typing import Any

import pytest

from opsconsole.core.notify.grouping import (
    group_notices,
    group_resolved_notice,
    inhibited,
    resolved_groups,
)
from opsconsole.core.notify.pagerduty import PagerDutyConfig, event

TS = "2026-03-02T10:00:00.000Z"


def n(i: int, *, provider: str = "microsoft", state: str = "firing", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "severity": "critical" if i % 2 else "warning",
        "title": f"IP 203.0.113.{i} blocked",
        "message": "550 5.7.1",
        "timestamp": TS,
        "service": "bounce_rate_monitor",
        "alert_id": f"al-{i:02d}",
        "state": state,
        "transition": "resolved" if state == "resolved" else "opened",
        "ip": f"203.0.113.{i}",
        "subuser": None,
        "rule": "bounce_rate",
        "value": 0.15 + i / 1000,
        "sent": 100,
        "window_seconds": 3600,
        "pool": "shared",
        "provider": provider,
        "opened_at": 1000.0 + i,
    }
    body.update(kw)
    return body


def test_forty_alerts_at_one_provider_become_one_notice() -> None:
    notices = [n(i) for i in range(1, 41)]
    (g,) = group_notices(notices, threshold=10, group_by="provider")
    assert g["title"] == "40 IPs blocked at microsoft"
    assert g["alert_id"] == "group:provider:microsoft:bounce_rate"
    assert g["alert_ids"] == [f"al-{i:02d}" for i in range(1, 41)]
    assert g["count"] == 40 and g["grouped"] is True and g["group_by"] == "provider"
    assert g["severity"] == "critical"  # the highest member
    assert g["provider"] == "microsoft" and g["pool"] == "shared"
    assert g["ip"] is None and g["sent"] == 4000 and g["value"] == 0.19
    assert g["transition"] == "opened" and g["opened_at"] == 1001.0
    lines = g["message"].splitlines()
    assert lines[0] == "40 IPs blocked at microsoft:"
    assert lines[1] == "- 203.0.113.1 15.10% [critical]"
    assert len(lines) == 41
    # The same members in another order give the same stable notice id.
    again = group_notices(list(reversed(notices)))
    assert again[0]["notice_id"] == g["notice_id"]
    assert g["notice_id"].startswith("group:provider:microsoft:bounce_rate:")


def test_five_alerts_pass_through_unchanged() -> None:
    notices = [n(i) for i in range(1, 6)]
    assert group_notices(notices, threshold=10) == notices


def test_groups_by_key_and_state_others_pass_in_order() -> None:
    storm = [n(i) for i in range(1, 13)]
    others = [n(50, provider="gmail"), n(51, provider=""), n(52, state="resolved")]
    out = group_notices([others[0], *storm[:6], others[1], *storm[6:], others[2]])
    assert [o["alert_id"] for o in out] == [
        "al-50",
        "group:provider:microsoft:bounce_rate",
        "al-51",
        "al-52",
    ]
    # Exactly threshold members: no grouping (more than threshold groups).
    assert len(group_notices(storm[:10], threshold=10)) == 10
    by_pool = group_notices(storm, threshold=10, group_by="pool")
    assert [o["alert_id"] for o in by_pool] == ["group:pool:shared:bounce_rate"]
    assert by_pool[0]["title"] == "12 IPs blocked at shared"
    with pytest.raises(ValueError):
        group_notices(storm, group_by="subuser")  # type: ignore[arg-type]  # bad on purpose


def test_grouped_notice_is_one_pagerduty_incident_and_resolves_it() -> None:
    cfg = PagerDutyConfig(name="pd", routing_key="k")
    (g,) = group_notices([n(i) for i in range(1, 41)])
    trigger = event(cfg, g)
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == "group:provider:microsoft:bounce_rate"
    # Resolved in one check: one grouped resolve under the same key.
    (r,) = group_notices([n(i, state="resolved") for i in range(1, 41)])
    assert r["title"] == "40 IPs recovered at microsoft (bounce_rate)"
    assert event(cfg, r) == {
        "routing_key": "k",
        "event_action": "resolve",
        "dedup_key": g["alert_id"],
    }
    # Resolved over several checks: the engine asks which groups have no open member.
    groups = {g["alert_id"]: g["alert_ids"], "group:provider:gmail:bounce_rate": ["al-99"]}
    assert resolved_groups(groups, {"al-99"}) == [g["alert_id"]]
    closing = group_resolved_notice(g, "2026-03-02T11:00:00.000Z")
    assert closing["state"] == "resolved" and closing["alert_id"] == g["alert_id"]
    assert closing["notice_id"] == f"{g['alert_id']}:resolved:2026-03-02T11:00:00.000Z"
    assert event(cfg, closing)["event_action"] == "resolve"


def test_inhibition() -> None:
    assert inhibited(n(1), {"shared"}) is True
    assert inhibited(n(1), {"other"}) is False
    assert inhibited(n(1, state="resolved"), {"shared"}) is False  # resolves always go out
    assert inhibited(n(1, ip=None, title="pool shared degraded"), {"shared"}) is False
    assert inhibited(n(1, pool=None), {"shared"}) is False
