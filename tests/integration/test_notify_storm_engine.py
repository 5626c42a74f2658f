"""Issue 16.3 through a real engine: 40 IPs of one pool breach in the same check, and the
webhook gets ONE grouped notice for the pool (instead of 40), listing every alert; each
alert keeps its own identity in the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.helpers import http_receiver as receivers

if TYPE_CHECKING:
    from tests.helpers.http_receiver import HttpReceiver
    from tests.integration.conftest import Harness

http_receiver = receivers.http_receiver
IPS = [f"10.40.0.{i}" for i in range(1, 41)]


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_forty_alerts_in_one_check_make_one_grouped_notice(
    harness: Harness, http_receiver: HttpReceiver
) -> None:
    h = harness
    members = ", ".join(f'{{ ip = "{ip}", weight = 100 }}' for ip in IPS)
    h.write_config(
        f'[[pools]]\nname = "bulk"\nmembers = [ {members} ]\n\n'
        '[alerts]\ngroup_threshold = 10\ngroup_by = "pool"\n\n'
        f'[[notify]]\nkind = "webhook"\nname = "ops"\nurl = "{http_receiver.url("/hook")}"\n'
    )
    rows = [r for ip in IPS for r in h.traffic(ip, 100, 20)]  # 20% each: all critical
    h.write_traffic(rows)  # one file: every IP is read before the first check
    ep = h.start_engine()
    h.wait_until(lambda: len(h.sql("SELECT id FROM alert")) >= 40, 30, "40 alerts")
    assert http_receiver.wait_for(1, timeout=15), ep.describe()
    h.wait_checks(ep, 2)
    assert ep.stop() == 0
    bodies = [r.json for r in http_receiver.accepted]
    opened = [b for b in bodies if b.get("transition") in ("opened", None) or b.get("grouped")]
    grouped = [b for b in opened if b.get("grouped")]
    assert len(grouped) == 1, bodies
    (g,) = grouped
    ids = {r["id"] for r in h.sql("SELECT id FROM alert WHERE rule = 'bounce_rate'")}
    assert set(g["alert_ids"]) == ids and len(ids) == 40  # each alert keeps its identity
    assert not [b for b in opened if not b.get("grouped") and b.get("ip") in IPS]
