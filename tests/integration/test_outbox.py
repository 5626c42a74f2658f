"""Outbox + dispatcher + HTTP notifiers against a real SQLite file and real HTTP servers."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.config import NotifierConfig, Secret
from opsconsole.core.notify.dispatcher import Dispatcher
from opsconsole.core.notify.payload import AlertNotice, webhook_body
from opsconsole.core.notify.sender import build_notifiers, make_client, recipients
from opsconsole.storage.db import open_database
from opsconsole.storage.outbox import GAVE_UP, OutboxStore
from opsconsole.storage.tables import Alert
from tests.helpers import http_receiver as receivers
from tests.helpers.clock import FakeClock
from tests.helpers.http_receiver import HttpReceiver

# Fixtures from the shared helper module.
http_receiver = receivers.http_receiver
make_receiver = receivers.make_receiver
slack_receiver = receivers.slack_receiver

SECRET = "T0SECRET/B0SECRET/xoxSECRETSECRET"

Make = Callable[..., HttpReceiver]


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = await open_database(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(timeout=2.0) as c:
        yield c


def hook(
    receiver: HttpReceiver | str,
    name: str,
    *,
    kind: str = "webhook",
    min_severity: str = "info",
    timeout: float = 2.0,
    secret: bool = False,
) -> NotifierConfig:
    path = f"/hooks/{SECRET}" if secret else f"/{name}"
    url = receiver.url(path) if isinstance(receiver, HttpReceiver) else receiver + path
    return NotifierConfig(kind, Secret(url), name, min_severity, timeout)


def body(alert_id: str, severity: str = "critical", state: str = "firing", now: float = 0.0):
    return webhook_body(
        AlertNotice(
            alert_id=alert_id,
            rule="bounce_rate",
            severity=severity,
            state=state,
            title=f"alert {alert_id}",
            message=f"IP 203.0.113.1 bounce rate high ({alert_id})",
            ip="203.0.113.1",
            subuser="primary",
            value=0.18,
            sent=500,
        ),
        now,
    )


async def drain(d: Dispatcher, clock: FakeClock, rounds: int = 40, step: float = 301.0) -> None:
    """Run the dispatcher, moving the fake clock past every backoff, until nothing is due."""
    for _ in range(rounds):
        await d.run_once()
        clock.advance(step)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- store ----------------------------------------------------------------------------------


async def test_enqueue_due_claim_and_stats(engine: AsyncEngine) -> None:
    store = OutboxStore(engine)
    ids = await store.enqueue(["a", "b"], "al-1", body("al-1"), now=100.0)
    assert len(ids) == 2
    (one,) = await store.enqueue("a", "al-2", body("al-2"), now=101.0)

    due = await store.due(now=101.0)
    assert [i.id for i in due] == [*ids, one]
    assert due[0].body == body("al-1") and due[0].notifier == "a" and due[0].alert_id == "al-1"
    assert await store.due(now=99.0) == []

    claimed = await store.claim(101.0, 10, ["a"], ttl=60.0)
    assert [i.notifier for i in claimed] == ["a", "a"]
    # A second claimer (another process, an overlapping drain) gets nothing twice.
    again = await store.claim(101.0, 10, ["a", "b"], ttl=60.0)
    assert [i.id for i in again] == [i.id for i in due if i.notifier == "b"]
    assert again[0].next_attempt_at == 161.0
    assert await store.claim(101.0, 10, ["a", "b"], ttl=60.0) == []

    await store.mark_sent(claimed[0].id, 102.0)
    await store.mark_failed(claimed[1].id, "HTTP 503", 200.0)
    await store.mark_failed(ids[1], "HTTP 400: bad", None)
    stats = await store.stats()
    assert stats["a"].pending == 1 and stats["a"].retrying == 1 and stats["a"].failed == 0
    assert stats["a"].last_sent_at == 102.0 and stats["a"].last_error == "HTTP 503"
    assert stats["b"].pending == 0 and stats["b"].failed == 1
    assert stats["b"].last_error == "HTTP 400: bad" and stats["b"].last_sent_at is None

    assert await store.retry_failed(now=300.0, notifier="b") == 1
    assert [i.id for i in await store.due(300.0, notifiers=["b"])] == [ids[1]]
    assert await store.purge_sent(before=103.0) == 1


async def test_enqueue_joins_the_callers_transaction(engine: AsyncEngine) -> None:
    store = OutboxStore(engine)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with engine.begin() as conn:
            await conn.execute(
                Alert.__table__.insert().values(  # type: ignore[attr-defined]
                    id="al-x", key="k", rule="r", severity="info", opened_at=1, last_seen_at=1
                )
            )
            await store.enqueue(["a"], "al-x", body("al-x"), 1.0, conn=conn)
            raise Boom
    assert await store.due(10.0) == []

    async with engine.begin() as conn:
        await store.enqueue(["a"], "al-y", body("al-y"), 1.0, conn=conn)
    assert [i.alert_id for i in await store.due(10.0)] == ["al-y"]


# --- delivery -------------------------------------------------------------------------------


async def test_refused_first_posts_then_each_alert_delivered_exactly_once(
    engine: AsyncEngine, client: httpx.AsyncClient, http_receiver: HttpReceiver
) -> None:
    http_receiver.fail_first(3, 500)
    clock = FakeClock()
    store = OutboxStore(engine)
    notifiers = build_notifiers([hook(http_receiver, "ops")], client)
    alerts = [f"al-{i}" for i in range(5)]
    for a in alerts:
        await store.enqueue(["ops"], a, body(a), clock())
    d = Dispatcher(store, notifiers, clock)

    await drain(d, clock)

    delivered = Counter(r.json["alert_id"] for r in http_receiver.accepted)
    assert delivered == Counter(alerts)  # every alert, exactly once
    assert len(http_receiver.posts) == 5 + 3
    # Order of a notifier's rows is kept through the retries.
    assert [r.json["alert_id"] for r in http_receiver.accepted] == alerts
    stats = (await store.stats())["ops"]
    assert stats.pending == 0 and stats.failed == 0 and stats.last_sent_at is not None
    assert http_receiver.posts[0].headers["content-type"] == "application/json"


async def test_backoff_holds_the_notifier_until_due(
    engine: AsyncEngine, client: httpx.AsyncClient, http_receiver: HttpReceiver
) -> None:
    http_receiver.fail_first(1, 503)
    clock = FakeClock()
    store = OutboxStore(engine)
    for a in ("al-1", "al-2"):
        await store.enqueue(["ops"], a, body(a), clock())
    d = Dispatcher(
        store, build_notifiers([hook(http_receiver, "ops")], client), clock, backoff_base=10
    )

    assert await d.run_once() == 0
    assert len(http_receiver.posts) == 1  # al-2 waits behind the failure, no hammering
    clock.advance(5)
    assert await d.run_once() == 0
    assert len(http_receiver.posts) == 1
    clock.advance(6)
    assert await d.run_once() == 2
    assert await store.due(clock(), 10) == []
    assert [r.json["alert_id"] for r in http_receiver.accepted] == ["al-1", "al-2"]


async def test_slow_endpoint_does_not_block_a_healthy_one(
    engine: AsyncEngine, client: httpx.AsyncClient, make_receiver: Make
) -> None:
    slow = make_receiver(delay=0.6)
    fast = make_receiver()
    clock = FakeClock()
    store = OutboxStore(engine)
    notifiers = build_notifiers([hook(slow, "slow", timeout=0.2), hook(fast, "fast")], client)
    for a in ("al-1", "al-2", "al-3"):
        await store.enqueue(["slow", "fast"], a, body(a), clock())
    d = Dispatcher(store, notifiers, clock)

    started = time.monotonic()
    assert await d.run_once() == 3
    elapsed = time.monotonic() - started

    assert [r.json["alert_id"] for r in fast.accepted] == ["al-1", "al-2", "al-3"]
    assert elapsed < 1.5  # one timeout of the slow one, not three, and not its 0.6 s delay
    assert len(slow.requests) == 1
    st = (await store.stats())["slow"]
    assert st.pending == 3 and st.retrying == 1
    assert st.last_error is not None and "timed out" in st.last_error


async def test_deadline_bounds_a_drain(
    engine: AsyncEngine, client: httpx.AsyncClient, make_receiver: Make
) -> None:
    slow = make_receiver(delay=0.8)
    clock = FakeClock()
    store = OutboxStore(engine)
    await store.enqueue(["slow"], "al-1", body("al-1"), clock())
    d = Dispatcher(
        store, build_notifiers([hook(slow, "slow", timeout=5)], client), clock, deadline=0.2
    )
    started = time.monotonic()
    assert await d.run_once() == 0
    assert time.monotonic() - started < 0.7
    # Cut off mid-request: the row is released, not lost, and not counted as an attempt.
    (item,) = await store.due(clock())
    assert item.attempts == 0


async def test_restart_delivers_pending_rows(
    db_url: str, client: httpx.AsyncClient, make_receiver: Make
) -> None:
    receiver = make_receiver()
    clock = FakeClock()
    down = [hook(closed_port_url(), "ops")]

    # First life: the endpoint is down; one row is also claimed by a drain that then dies.
    eng = await open_database(db_url)
    store = OutboxStore(eng)
    for a in ("al-1", "al-2"):
        await store.enqueue(["ops"], a, body(a), clock())
    await Dispatcher(store, build_notifiers(down, client), clock).run_once()
    await store.enqueue(["ops"], "al-3", body("al-3"), clock())
    crashed = await store.claim(clock(), 10, ["ops"], ttl=60.0)
    assert "al-3" in [i.alert_id for i in crashed]
    await eng.dispose()

    # Second life: new engine, new dispatcher, same file; the endpoint is back.
    eng2 = await open_database(db_url)
    try:
        store2 = OutboxStore(eng2)
        d = Dispatcher(store2, build_notifiers([hook(receiver, "ops")], client), clock)
        await drain(d, clock, rounds=3)
        assert sorted(r.json["alert_id"] for r in receiver.accepted) == ["al-1", "al-2", "al-3"]
        assert (await store2.stats())["ops"].pending == 0
    finally:
        await eng2.dispose()


async def test_a_400_is_not_retried(
    engine: AsyncEngine, client: httpx.AsyncClient, make_receiver: Make
) -> None:
    bad = make_receiver(status=400)
    clock = FakeClock()
    store = OutboxStore(engine)
    await store.enqueue(["bad"], "al-1", body("al-1"), clock())
    await store.enqueue(["bad"], "al-2", body("al-2"), clock())
    d = Dispatcher(store, build_notifiers([hook(bad, "bad")], client), clock)

    await drain(d, clock, rounds=5)

    assert len(bad.posts) == 2  # each tried once; a 400 will not change its mind
    st = (await store.stats())["bad"]
    assert st.pending == 0 and st.failed == 2
    assert st.last_error is not None and "HTTP 400" in st.last_error


async def test_retryable_failures_stop_after_max_attempts(
    engine: AsyncEngine, client: httpx.AsyncClient, make_receiver: Make
) -> None:
    down = make_receiver(status=500)
    clock = FakeClock()
    store = OutboxStore(engine)
    await store.enqueue(["down"], "al-1", body("al-1"), clock())
    d = Dispatcher(
        store,
        build_notifiers([hook(down, "down")], client),
        clock,
        max_attempts=4,
        backoff_base=0.01,
        backoff_cap=0.05,
    )
    await drain(d, clock, rounds=10, step=1.0)
    assert len(down.posts) == 4
    st = (await store.stats())["down"]
    assert st.failed == 1 and st.pending == 0 and "HTTP 500" in (st.last_error or "")


async def test_429_retry_after_is_honoured(
    engine: AsyncEngine, client: httpx.AsyncClient, make_receiver: Make
) -> None:
    class Limited(HttpReceiver):
        def respond(self, method: str, path: str, data: Any, raw: bytes) -> Any:
            if len(self.requests) == 0:
                return 429, "text/plain", "slow down"
            return super().respond(method, path, data, raw)

    r = Limited()
    try:
        clock = FakeClock()
        store = OutboxStore(engine)
        await store.enqueue(["r"], "al-1", body("al-1"), clock())
        d = Dispatcher(store, build_notifiers([hook(r, "r")], client), clock, backoff_base=1)
        await d.run_once()
        (item,) = await store.due(clock() + 10)
        assert item.attempts == 1 and item.next_attempt_at == pytest.approx(clock() + 1)
    finally:
        r.close()


async def test_min_severity_filtering(
    engine: AsyncEngine, client: httpx.AsyncClient, make_receiver: Make
) -> None:
    all_rx, warn_rx, crit_rx = make_receiver(), make_receiver(), make_receiver()
    settings = [
        hook(all_rx, "all"),
        hook(warn_rx, "warn", min_severity="warning"),
        hook(crit_rx, "crit", min_severity="critical"),
    ]
    notifiers = build_notifiers(settings, client)
    clock = FakeClock()
    store = OutboxStore(engine)
    for alert_id, severity in (("i", "info"), ("w", "warning"), ("c", "critical")):
        await store.enqueue(
            recipients(notifiers, severity), alert_id, body(alert_id, severity), clock()
        )
    # The resolved notice of the warning alert follows the alert's severity.
    await store.enqueue(
        recipients(notifiers, "warning"), "w", body("w", "warning", "resolved"), clock()
    )
    await Dispatcher(store, notifiers, clock).run_once()

    def got(rx: HttpReceiver) -> list[tuple[str, str]]:
        return [(r.json["alert_id"], r.json["state"]) for r in rx.accepted]

    assert got(all_rx) == [("i", "firing"), ("w", "firing"), ("c", "firing"), ("w", "resolved")]
    assert got(warn_rx) == [("w", "firing"), ("c", "firing"), ("w", "resolved")]
    assert got(crit_rx) == [("c", "firing")]


async def test_slack_notifier_against_a_slack_shaped_receiver(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    slack_receiver: HttpReceiver,
    make_receiver: Make,
) -> None:
    clock = FakeClock()
    store = OutboxStore(engine)
    notifiers = build_notifiers(
        [
            hook(slack_receiver, "slack", kind="slack"),
            # A generic webhook pointed at Slack by mistake: refused, not retried.
            hook(slack_receiver, "wrong", kind="webhook"),
        ],
        client,
    )
    await store.enqueue(["slack", "wrong"], "al-1", body("al-1", "warning"), clock())
    await drain(Dispatcher(store, notifiers, clock), clock, rounds=3)

    (ok,) = slack_receiver.accepted
    assert ok.path == "/slack"
    assert ok.json["attachments"][0]["color"] == "#f2c744"
    assert ok.json["text"].startswith("[WARNING]")
    stats = await store.stats()
    assert stats["slack"].pending == 0 and stats["slack"].last_sent_at is not None
    assert stats["wrong"].failed == 1 and "invalid_payload" in (stats["wrong"].last_error or "")


async def test_secret_url_never_in_errors_or_logs(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    make_receiver: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = make_receiver(status=500)  # its error body echoes the request path
    ok = make_receiver()
    slow = make_receiver(delay=0.5)
    settings = [
        hook(echo, "echo", secret=True),
        hook(ok, "ok", secret=True),
        hook(slow, "slow", secret=True, timeout=0.1),
        hook(closed_port_url(), "refused", secret=True),
        hook(make_receiver(status=404), "gone", secret=True),
    ]
    notifiers = build_notifiers(settings, client)
    clock = FakeClock()
    store = OutboxStore(engine)
    await store.enqueue(list(notifiers), "al-1", body("al-1"), clock())
    await Dispatcher(store, notifiers, clock).run_once()

    stats = await store.stats()
    errors = [stats[n].last_error for n in ("echo", "slow", "refused", "gone")]
    assert all(errors), errors
    assert ok.accepted and echo.posts[0].path == f"/hooks/{SECRET}"
    for part in SECRET.split("/"):
        assert all(part not in e for e in errors if e), errors
        assert part not in caplog.text
        assert all(part not in repr(n) for n in notifiers.values())
    assert "http://127.0.0.1" in (stats["echo"].last_error or "")
    assert "/***" in caplog.text


async def test_run_forever_drains_in_the_background(
    engine: AsyncEngine, client: httpx.AsyncClient, http_receiver: HttpReceiver
) -> None:
    store = OutboxStore(engine)
    d = Dispatcher(store, build_notifiers([hook(http_receiver, "ops")], client))
    stop = asyncio.Event()
    task = asyncio.create_task(d.run_forever(stop, interval=30.0))
    await asyncio.sleep(0.05)
    await store.enqueue(["ops"], "al-1", body("al-1"), time.time())
    d.wake()  # no need to wait the 30 s interval
    for _ in range(100):
        if http_receiver.accepted:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2.0)
    assert [r.json["alert_id"] for r in http_receiver.accepted] == ["al-1"]


async def test_rows_of_an_unconfigured_notifier_stay_pending(
    engine: AsyncEngine, client: httpx.AsyncClient, http_receiver: HttpReceiver
) -> None:
    clock = FakeClock()
    store = OutboxStore(engine)
    await store.enqueue(["removed-from-config"], "al-1", body("al-1"), clock())
    d = Dispatcher(store, build_notifiers([hook(http_receiver, "ops")], client), clock)
    assert await d.run_once() == 0
    st = (await store.stats())["removed-from-config"]
    assert st.pending == 1 and st.failed == 0
    assert clock() < GAVE_UP
