"""PagerDuty, Alertmanager and Telegram notifiers against recorders on 127.0.0.1 that answer
the way the real APIs do (tests/helpers/paging_receivers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from opsconsole.core.notify.alertmanager import AlertmanagerConfig, AlertmanagerNotifier, resend_due
from opsconsole.core.notify.kinds import build
from opsconsole.core.notify.pagerduty import PagerDutyConfig
from opsconsole.core.notify.sender import DeliveryError, Notifier, make_client
from opsconsole.core.notify.telegram import TelegramConfig
from tests.helpers import paging_receivers as receivers
from tests.helpers.notices import OPENED, notice
from tests.helpers.paging_receivers import (
    AlertmanagerReceiver,
    PagerDutyReceiver,
    TelegramReceiver,
)
from tests.helpers.smtp_relay import free_port

pagerduty_receiver = receivers.pagerduty_receiver
alertmanager_receiver = receivers.alertmanager_receiver
make_telegram_receiver = receivers.make_telegram_receiver

ROUTING_KEY = "R0UTINGKEYSECRET0123456789abcdef"
BOT_TOKEN = "123456:BOTSECRET-token_value"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(timeout=2.0) as c:
        yield c


# --- PagerDuty --------------------------------------------------------------------------


def pd(receiver: PagerDutyReceiver, client: httpx.AsyncClient) -> Notifier:
    cfg = PagerDutyConfig(name="pd", routing_key=ROUTING_KEY, url=receiver.url("/v2/enqueue"))
    return build("pagerduty", cfg, client)


async def test_pagerduty_fire_ack_resolve_one_incident(
    pagerduty_receiver: PagerDutyReceiver, client: httpx.AsyncClient
) -> None:
    n = pd(pagerduty_receiver, client)
    await n.send(notice())
    await n.send(notice(state="acknowledged", transition="acknowledged", now=OPENED + 60))
    await n.send(notice(state="resolved", transition="resolved", now=OPENED + 600))
    got = [r.json for r in pagerduty_receiver.requests]
    assert [r.status for r in pagerduty_receiver.requests] == [202, 202, 202]
    assert [g["event_action"] for g in got] == ["trigger", "acknowledge", "resolve"]
    assert {g["dedup_key"] for g in got} == {"al-1"}
    assert got[1] == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": "al-1",
    }
    assert got[2] == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "al-1"}
    payload = got[0]["payload"]
    assert {k: v for k, v in payload.items() if k != "custom_details"} == {
        "summary": "IP Blocked - High Bounce Rate: IP 203.0.113.7 removed: 550 5.7.1 "
        "<blocked> & rejected",
        "source": "mx1",
        "severity": "critical",
        "timestamp": "2023-11-14T22:13:20.000Z",
        "component": "203.0.113.7",
        "group": "shared",
        "class": "bounce_rate",
    }
    assert payload["custom_details"]["provider"] == "microsoft"
    assert payload["custom_details"]["value"] == 0.18


async def test_pagerduty_429_retryable_400_permanent_and_key_scrubbed(
    pagerduty_receiver: PagerDutyReceiver, client: httpx.AsyncClient
) -> None:
    n = pd(pagerduty_receiver, client)
    pagerduty_receiver.fail_first(1, 429, body=f"slow down {ROUTING_KEY}")
    with pytest.raises(DeliveryError) as e:
        await n.send(notice())
    assert e.value.retryable is True
    assert ROUTING_KEY not in str(e.value)
    assert str(e.value) == f"{pagerduty_receiver.base_url}: HTTP 429: slow down ***"

    pagerduty_receiver.fail_first(1, 400, body=f'{{"errors":["bad key {ROUTING_KEY}"]}}')
    with pytest.raises(DeliveryError) as e:
        await n.send(notice())
    assert e.value.retryable is False
    assert ROUTING_KEY not in str(e.value) and ROUTING_KEY not in repr(n)


# --- Alertmanager -----------------------------------------------------------------------


async def test_alertmanager_starts_then_ends(
    alertmanager_receiver: AlertmanagerReceiver, client: httpx.AsyncClient
) -> None:
    cfg = AlertmanagerConfig(
        name="am", url=alertmanager_receiver.base_url, generator_url="https://ops.example/c"
    )
    n = build("alertmanager", cfg, client)
    await n.send(notice(now=OPENED + 30, subuser=""))
    await n.send(notice(state="resolved", transition="resolved", now=OPENED + 900, subuser=""))
    assert [r.path for r in alertmanager_receiver.requests] == ["/api/v2/alerts"] * 2
    first, second = alertmanager_receiver.alerts
    labels = {
        "alertname": "bounce_rate",
        "ip": "203.0.113.7",
        "provider": "microsoft",
        "pool": "shared",
        "severity": "critical",
        "host": "mx1",
    }
    assert first == {
        "labels": labels,
        "annotations": {
            "summary": "IP Blocked - High Bounce Rate",
            "description": "IP 203.0.113.7 removed: 550 5.7.1 <blocked> & rejected",
        },
        "startsAt": "2023-11-14T22:13:20.000Z",
        "generatorURL": "https://ops.example/c",
    }
    assert second["labels"] == labels
    assert second["startsAt"] == "2023-11-14T22:13:20.000Z"
    assert second["endsAt"] == "2023-11-14T22:28:20.000Z"


async def test_alertmanager_batch_resend(
    alertmanager_receiver: AlertmanagerReceiver, client: httpx.AsyncClient
) -> None:
    n = AlertmanagerNotifier(
        AlertmanagerConfig(name="am", url=alertmanager_receiver.base_url), client
    )
    active = [notice(f"al-{i}", ip=f"203.0.113.{i}") for i in range(3)]
    due = resend_due(
        active, {"al-0": OPENED + 100, "al-1": OPENED}, OPENED + 120, n.resend_interval
    )
    await n.send_batch(due)
    (req,) = alertmanager_receiver.requests
    assert [a["labels"]["ip"] for a in req.json] == ["203.0.113.1", "203.0.113.2"]


# --- Telegram ---------------------------------------------------------------------------


def tg(receiver: TelegramReceiver, client: httpx.AsyncClient, token: str = BOT_TOKEN) -> Notifier:
    cfg = TelegramConfig(name="tg", token=token, chat_id="-1001234567", api_url=receiver.base_url)
    return build("telegram", cfg, client)


async def test_telegram_message(
    make_telegram_receiver: Callable[[str], TelegramReceiver], client: httpx.AsyncClient
) -> None:
    r = make_telegram_receiver(BOT_TOKEN)
    await tg(r, client).send(notice())
    (req,) = r.requests
    assert req.status == 200 and req.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert req.json == {
        "chat_id": "-1001234567",
        "text": "<b>[CRITICAL] IP Blocked - High Bounce Rate</b>\n"
        "IP 203.0.113.7 removed: 550 5.7.1 &lt;blocked&gt; &amp; rejected\n"
        "IP: 203.0.113.7\nSubuser: primary\nPool: shared\nProvider: microsoft\nRate: 18.00%",
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


async def test_telegram_429_retry_after_and_errors_scrubbed(
    make_telegram_receiver: Callable[[str], TelegramReceiver], client: httpx.AsyncClient
) -> None:
    r = make_telegram_receiver(BOT_TOKEN)
    n = tg(r, client)
    r.rate_limit(17)
    with pytest.raises(DeliveryError) as e:
        await n.send(notice())
    assert e.value.retryable is True and e.value.retry_after == 17.0
    assert BOT_TOKEN not in str(e.value)

    r.fail_first(1, 403)  # body echoes the path, token included
    with pytest.raises(DeliveryError) as e:
        await n.send(notice())
    assert e.value.retryable is False
    assert str(e.value) == f"{r.base_url}/bot***: HTTP 403: error 403 for /bot***/sendMessage"

    wrong = tg(r, client, token="999:OTHERSECRET")
    with pytest.raises(DeliveryError) as e:
        await wrong.send(notice())
    assert e.value.retryable is False and "OTHERSECRET" not in str(e.value)
    assert BOT_TOKEN not in repr(n)


async def test_telegram_connection_refused_scrubbed(client: httpx.AsyncClient) -> None:
    cfg = TelegramConfig(
        name="tg", token=BOT_TOKEN, chat_id="1", api_url=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(DeliveryError) as e:
        await build("telegram", cfg, client).send(notice())
    assert e.value.retryable is True
    assert BOT_TOKEN not in str(e.value)


def test_build_rejects_mismatched_config() -> None:
    cfg = TelegramConfig(name="tg", token=BOT_TOKEN, chat_id="1")
    with pytest.raises(TypeError):
        build("pagerduty", cfg, httpx.AsyncClient())
    with pytest.raises(ValueError, match="unknown notifier kind"):
        build("pigeon", cfg, httpx.AsyncClient())
