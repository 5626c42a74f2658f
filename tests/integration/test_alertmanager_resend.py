"""Issue 16.1: Alertmanager forgets an alert not re-sent within its resolve timeout, so the
leader re-posts every open alert on ``resend_interval`` (here 2 s) with its startsAt."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest

from tests.helpers import paging_receivers

if TYPE_CHECKING:
    from tests.helpers.paging_receivers import AlertmanagerReceiver
    from tests.integration.conftest import Harness

alertmanager_receiver = paging_receivers.alertmanager_receiver
IP = "10.9.1.5"


@pytest.mark.slow
def test_open_alerts_are_re_sent_on_the_cadence(
    harness: Harness, alertmanager_receiver: AlertmanagerReceiver
) -> None:
    h, am = harness, alertmanager_receiver
    h.write_config(
        f'[[pools]]\nname = "prod"\nmembers = [ {{ ip = "{IP}", weight = 100 }} ]\n\n'
        f'[[notify]]\nkind = "alertmanager"\nname = "am"\nurl = "{am.base_url}"\n'
        'resend_interval = "2s"\n'
    )
    h.write_traffic(h.traffic(IP, 300, 60))  # 20%: an alert opens and stays open
    ep = h.start_engine()
    h.wait_until(lambda: len([a for a in am.alerts if a["labels"]["ip"] == IP]) >= 3, 30,
                 "the alert posted, then re-posted twice")  # fmt: skip
    assert ep.stop() == 0
    mine = [a for a in am.alerts if a["labels"]["ip"] == IP]
    assert len({a["startsAt"] for a in mine}) == 1  # the same alert each time
    assert not any(a.get("endsAt") for a in mine)  # still active
    times = [r.at for r in am.accepted if any(a["labels"]["ip"] == IP for a in r.json)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 1.5 for g in gaps), gaps  # on the cadence, not every 1 s check
