"""Issue 16 / 18.4 acceptance through a real engine subprocess on a real SQLite file.

- fire -> ack -> resolve reaches PagerDuty as trigger / acknowledge / resolve under one
  dedup_key (the alert id), and Alertmanager as startsAt, then endsAt;
- kill -9 between firing and resolve while the receiver is down: after the restart the
  receiver, once back, gets firing then resolved, each once by notice_id.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import paging_receivers

if TYPE_CHECKING:
    from tests.helpers.paging_receivers import AlertmanagerReceiver, PagerDutyReceiver
    from tests.integration.conftest import Harness

pagerduty_receiver = paging_receivers.pagerduty_receiver
alertmanager_receiver = paging_receivers.alertmanager_receiver

IP = "10.9.0.5"


def config(pd: str, am: str | None = None) -> str:
    text = (
        f'[[pools]]\nname = "prod"\nmembers = [ {{ ip = "{IP}", weight = 100 }} ]\n\n'
        f'[[notify]]\nkind = "pagerduty"\nname = "pd"\nrouting_key = "rk-secret"\n'
        f'url = "{pd}"\n'
    )
    if am:
        text += f'\n[[notify]]\nkind = "alertmanager"\nname = "am"\nurl = "{am}"\n'
    return text


def alert_id(h: Harness) -> str:
    rows = h.sql("SELECT id FROM alert")
    assert len(rows) == 1
    return str(rows[0]["id"])


@pytest.mark.slow
def test_fire_ack_resolve_reach_pagerduty_and_alertmanager(
    harness: Harness,
    pagerduty_receiver: PagerDutyReceiver,
    alertmanager_receiver: AlertmanagerReceiver,
) -> None:
    h, pd, am = harness, pagerduty_receiver, alertmanager_receiver
    h.write_config(config(pd.url("/v2/enqueue"), am.base_url))
    h.write_traffic(h.traffic(IP, 300, 60))  # 20%: critical
    ep = h.start_engine()
    assert pd.wait_for(1, timeout=20), ep.describe()
    aid = alert_id(h)
    h.cli("alerts", "ack", aid, "--by", "alice")
    h.wait_until(lambda: len(pd.accepted) >= 2, 20, "the acknowledge")
    h.cli("alerts", "resolve", aid, "--note", "fixed")
    h.wait_until(lambda: len(pd.accepted) >= 3, 20, "the resolve")
    h.wait_until(lambda: any(a.get("endsAt") for a in am.alerts), 20, "endsAt")
    assert ep.stop() == 0

    # The traffic still breaches, so a new alert may open after the resolve (spec: a new
    # breach after resolve is a new alert): look at this alert's incident.
    events = [r.json for r in pd.accepted if r.json["dedup_key"] == aid]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    ids = [e["payload"]["custom_details"]["notice_id"] for e in events[:1]]
    assert ids == [f"{aid}:1"]
    mine = [a for a in am.alerts if a["labels"]["ip"] == IP]
    assert mine[0]["labels"]["pool"] == "prod" and "endsAt" not in mine[0]
    # firing, acknowledged (still active), resolved: one startsAt, endsAt on the last
    same = [a for a in mine if a["startsAt"] == mine[0]["startsAt"]]
    assert len(same) == 3 and "endsAt" not in same[1] and same[2]["endsAt"]


@pytest.mark.slow
def test_kill_9_with_receiver_down_then_firing_then_resolved_once(
    harness: Harness, pagerduty_receiver: PagerDutyReceiver
) -> None:
    h, pd = harness, pagerduty_receiver
    pd.status = 503  # down
    h.write_config(config(pd.url("/v2/enqueue")))
    h.write_traffic(h.traffic(IP, 300, 60))
    first = h.start_engine(name="first")
    h.wait_until(lambda: h.sql("SELECT 1 FROM outbox WHERE attempts >= 2"), 30, "two failed tries")
    aid = alert_id(h)
    assert first.stop(signal.SIGKILL) != 0
    # Resolved while no engine runs: the command waits for the next leader.
    h.cli("alerts", "resolve", aid, "--note", "fixed")
    second = h.start_engine(name="second")
    h.wait_until(
        lambda: len(h.sql("SELECT 1 FROM outbox WHERE alert_id = ?", (aid,))) == 2,
        20,
        "the resolved notice",
    )
    pd.status = 202  # back
    h.wait_until(lambda: len(pd.accepted) >= 2, 60, "both notices", poll=0.25)
    assert second.stop() == 0

    got: dict[str, Any] = {}
    order: list[str] = []
    for r in pd.accepted:
        if r.json["dedup_key"] != aid:
            continue  # the still-breaching IP opens a new alert after the resolve
        key = f"{r.json['dedup_key']}:{r.json['event_action']}"
        if key not in got:
            order.append(key)
        got[key] = r.json
    assert order == [f"{aid}:trigger", f"{aid}:resolve"]
    rows = h.sql("SELECT notice_id, sent_at FROM outbox WHERE alert_id = ? ORDER BY id", (aid,))
    assert [r["notice_id"] for r in rows] == [f"{aid}:1", f"{aid}:2"]
    assert all(r["sent_at"] is not None for r in rows)
