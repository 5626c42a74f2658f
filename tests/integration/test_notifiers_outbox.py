"""The new notifiers behind the real outbox and dispatcher (SQLite file, recorders on
127.0.0.1): rows of one alert reach PagerDuty in transition order under one dedup_key, and
Telegram's ``retry_after`` sets when the row is next due."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.notify.dispatcher import Dispatcher
from opsconsole.core.notify.kinds import build
from opsconsole.core.notify.pagerduty import PagerDutyConfig
from opsconsole.core.notify.sender import make_client
from opsconsole.core.notify.telegram import TelegramConfig
from opsconsole.storage.db import open_database
from opsconsole.storage.outbox import OutboxStore
from tests.helpers import paging_receivers as receivers
from tests.helpers.clock import FakeClock
from tests.helpers.notices import notice
from tests.helpers.paging_receivers import PagerDutyReceiver, TelegramReceiver

pagerduty_receiver = receivers.pagerduty_receiver
make_telegram_receiver = receivers.make_telegram_receiver

TOKEN = "42:OUTBOXSECRET"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = await open_database(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(timeout=2.0) as c:
        yield c


async def test_pagerduty_through_the_outbox(
    engine: AsyncEngine, client: httpx.AsyncClient, pagerduty_receiver: PagerDutyReceiver
) -> None:
    clock = FakeClock()
    store = OutboxStore(engine)
    cfg = PagerDutyConfig(name="pd", routing_key="rk", url=pagerduty_receiver.url("/v2/enqueue"))
    steps = [("firing", "opened"), ("acknowledged", "acknowledged"), ("resolved", "resolved")]
    for state, transition in steps:
        await store.enqueue("pd", "al-9", notice("al-9", state=state, transition=transition), 0)
    d = Dispatcher(store, {"pd": build("pagerduty", cfg, client)}, clock)
    assert await d.run_once() == 3
    got = [(r.json["event_action"], r.json["dedup_key"]) for r in pagerduty_receiver.requests]
    assert got == [("trigger", "al-9"), ("acknowledge", "al-9"), ("resolve", "al-9")]


async def test_telegram_retry_after_sets_next_attempt(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    make_telegram_receiver: Callable[[str], TelegramReceiver],
) -> None:
    r = make_telegram_receiver(TOKEN)
    r.rate_limit(17)
    clock = FakeClock()
    store = OutboxStore(engine)
    cfg = TelegramConfig(name="tg", token=TOKEN, chat_id="5", api_url=r.base_url)
    await store.enqueue("tg", "al-1", notice(), clock())
    d = Dispatcher(store, {"tg": build("telegram", cfg, client)}, clock)

    assert await d.run_once() == 0
    (row,) = await store.due(clock() + 17)
    assert row.attempts == 1 and row.next_attempt_at == clock() + 17
    assert row.last_error is not None and TOKEN not in row.last_error
    assert await store.due(clock() + 16.9) == []

    clock.advance(17)
    assert await d.run_once() == 1
    assert [q.status for q in r.requests] == [429, 200]
