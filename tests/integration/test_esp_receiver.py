"""The ESP webhook receiver end to end: real HTTP on 127.0.0.1, real signatures made with
keys generated here, a real SQLite file behind the store port."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsconsole.core.esp.receiver import (
    EspReceiver,
    MailgunHook,
    ReceiverConfig,
    SendgridHook,
    SesHook,
)
from opsconsole.core.esp.ses import SesAttribution
from opsconsole.core.esp.verify import HttpCertSource, HttpConfirmer
from opsconsole.core.events import Kind
from opsconsole.core.httpserve import HttpServer
from tests.helpers.clock import FakeClock
from tests.helpers.esp_sign import SendgridSigner, SnsSigner, iso, mailgun_doc
from tests.helpers.esp_store import SqliteEventStore
from tests.helpers.sns_origin import SnsOrigin

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
MG_KEY = secrets.token_hex(32)
D, B, F, C = (int(k) for k in (Kind.DELIVERED, Kind.BOUNCED, Kind.DEFERRED, Kind.COMPLAINED))


@dataclass
class Rig:
    clock: FakeClock
    store: SqliteEventStore
    receiver: EspReceiver
    server: HttpServer
    http: httpx.AsyncClient
    sendgrid: SendgridSigner
    sns: SnsSigner
    origin: SnsOrigin

    @property
    def now(self) -> int:
        return int(self.clock())

    async def post_sendgrid(
        self, events: list[dict[str, Any]], path: str = "/hooks/sendgrid", ts: int | None = None
    ) -> httpx.Response:
        body = json.dumps(events).encode()
        headers = self.sendgrid.headers(body, self.now if ts is None else ts)
        return await self.http.post(path, content=body, headers=headers)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock()
    store = SqliteEventStore(tmp_path / "esp.db")
    sg, sns = SendgridSigner(), SnsSigner()
    origin = SnsOrigin({SnsSigner.CERT_PATH: sns.pem})
    aws = httpx.AsyncClient(timeout=5.0)
    config = ReceiverConfig(
        sendgrid=SendgridHook(sg.public_key_b64),
        mailgun=MailgunHook(MG_KEY),
        ses=SesHook(frozenset({TOPIC}), SesAttribution(ip_by_config_set={"bulk": "198.18.0.9"})),
    )
    receiver = EspReceiver(
        config,
        store,
        clock=clock,
        certs=HttpCertSource(aws, origin=origin.origin),
        confirmer=HttpConfirmer(aws, origin=origin.origin),
    )
    server = receiver.server()
    await server.start("127.0.0.1", 0)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10.0)
    try:
        yield Rig(clock, store, receiver, server, client, sg, sns, origin)
    finally:
        await client.aclose()
        await server.close()
        await aws.aclose()
        origin.close()


def sg_event(
    n: int, event: str = "delivered", ip: str | None = "10.0.0.1", **kw: Any
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "email": f"u{n}@example.com",
        "timestamp": 1_767_225_000,
        "event": event,
        "sg_event_id": f"ev-{event}-{n}",
        "sg_message_id": f"msg{n}.filter0001.1",
    }
    if ip is not None:
        rec["ip"] = ip
    rec.update(kw)
    return rec


async def test_sendgrid_counts_per_ip_and_subuser_and_replay_counts_once(rig: Rig) -> None:
    batch = [sg_event(i) for i in range(5)]
    batch += [sg_event(i, ip="10.0.0.2") for i in range(5, 8)]
    batch += [sg_event(8, "bounce", ip="10.0.0.2", type="blocked", status="5.7.1")]
    batch += [sg_event(0, "spamreport", ip=None)]  # joins to msg0 -> 10.0.0.1
    batch += [sg_event(1, "open", ip="203.0.113.1"), sg_event(9, "dropped", ip=None)]
    r = await rig.post_sendgrid(batch, "/hooks/sendgrid/primary")
    assert r.status_code == 200
    expected = {
        ("sendgrid", "10.0.0.1", "primary", D): 5,
        ("sendgrid", "10.0.0.2", "primary", D): 3,
        ("sendgrid", "10.0.0.2", "primary", B): 1,
        ("sendgrid", "10.0.0.1", "primary", C): 1,
    }
    assert rig.store.counts() == expected
    r2 = await rig.post_sendgrid(batch, "/hooks/sendgrid/primary")  # ESP retry, re-signed
    assert r2.status_code == 200
    assert rig.store.counts() == expected
    st = rig.receiver.stats
    assert (st.accepted, st.stored_new, st.duplicates, st.suppressed) == (2, 10, 10, 2)
    assert st.engagement == {("open", "10.0.0.1", "primary"): 2}


async def test_sendgrid_forged_stale_and_missing_signatures_store_nothing(rig: Rig) -> None:
    body = json.dumps([sg_event(1)]).encode()
    forged = SendgridSigner().headers(body, rig.now)
    assert (await rig.http.post("/hooks/sendgrid", content=body, headers=forged)).status_code == 401
    tampered = rig.sendgrid.headers(body, rig.now)
    r = await rig.http.post("/hooks/sendgrid", content=body.replace(b"u1", b"u2"), headers=tampered)
    assert r.status_code == 401
    assert (await rig.http.post("/hooks/sendgrid", content=body)).status_code == 401
    assert (await rig.post_sendgrid([sg_event(1)], ts=rig.now - 301)).status_code == 401
    assert (await rig.post_sendgrid([sg_event(1)], ts=rig.now + 301)).status_code == 401
    assert (await rig.post_sendgrid([sg_event(1)], ts=rig.now - 299)).status_code == 200
    assert rig.store.total() == 1
    assert MG_KEY not in r.text and "signature" not in r.text.lower()


async def test_http_errors(rig: Rig) -> None:
    big = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    r = await rig.http.post(
        "/hooks/sendgrid", content=big, headers=rig.sendgrid.headers(big, rig.now)
    )
    assert r.status_code == 413
    bad = b"[{not json"
    r = await rig.http.post(
        "/hooks/sendgrid", content=bad, headers=rig.sendgrid.headers(bad, rig.now)
    )
    assert r.status_code == 400
    obj = b'{"event": "delivered"}'  # signed, valid JSON, not an array
    r = await rig.http.post(
        "/hooks/sendgrid", content=obj, headers=rig.sendgrid.headers(obj, rig.now)
    )
    assert r.status_code == 400
    assert (await rig.http.post("/hooks/unknown", content=b"[]")).status_code == 404
    assert (await rig.http.post("/metrics", content=b"[]")).status_code == 404
    assert (await rig.http.post("/hooks/sendgrid/bad%20name", content=b"[]")).status_code == 404
    r = await rig.http.get("/hooks/sendgrid")
    assert (r.status_code, r.headers["allow"]) == (405, "POST")
    assert rig.store.calls == 0


async def test_store_failure_is_503_and_retry_is_stored_once(rig: Rig) -> None:
    rig.store.fail_next = 1
    batch = [sg_event(i) for i in range(3)]
    assert (await rig.post_sendgrid(batch)).status_code == 503
    assert rig.store.total() == 0
    assert (await rig.post_sendgrid(batch)).status_code == 200
    assert (await rig.post_sendgrid(batch)).status_code == 200
    assert rig.store.counts() == {("sendgrid", "10.0.0.1", None, D): 3}


def mg_data(n: int, event: str = "failed", **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": event,
        "id": f"mg-{n}",
        "timestamp": 1_767_225_000.5,
        "recipient": f"u{n}@example.net",
        "severity": "permanent",
        "envelope": {"sending-ip": "192.0.2.5"},
        "delivery-status": {"code": 550, "message": "550 5.1.1 no such user"},
    }
    data.update(kw)
    return data


async def test_mailgun_signed_replay_and_forgery(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = secrets.token_hex(25)
    body = mailgun_doc(MG_KEY, rig.now, token, mg_data(1))
    assert (await rig.http.post("/hooks/mailgun/acct", content=body)).status_code == 200
    # The same signature with a different event: refused as a replay, nothing stored.
    replay = mailgun_doc(MG_KEY, rig.now, token, mg_data(2, "delivered"))
    assert (await rig.http.post("/hooks/mailgun/acct", content=replay)).status_code == 200
    forged = mailgun_doc("wrong-key", rig.now, secrets.token_hex(25), mg_data(3))
    assert (await rig.http.post("/hooks/mailgun/acct", content=forged)).status_code == 401
    stale = mailgun_doc(MG_KEY, rig.now - 400, secrets.token_hex(25), mg_data(4))
    assert (await rig.http.post("/hooks/mailgun/acct", content=stale)).status_code == 401
    fresh = mailgun_doc(MG_KEY, rig.now, secrets.token_hex(25), mg_data(5, severity="temporary"))
    assert (await rig.http.post("/hooks/mailgun/acct", content=fresh)).status_code == 200
    assert rig.store.counts() == {
        ("mailgun", "192.0.2.5", "acct", B): 1,
        ("mailgun", "192.0.2.5", "acct", F): 1,
    }
    assert rig.receiver.stats.replays == 1
    sig = json.loads(body)["signature"]["signature"]
    assert MG_KEY not in caplog.text and sig not in caplog.text and token not in caplog.text
    assert "401" in caplog.text  # the refusals were logged, without their secrets


def ses_notification(
    rig: Rig, message: dict[str, Any], topic: str = TOPIC, version: str = "1", age: float = 0
) -> bytes:
    return rig.sns.sign(
        {
            "Type": "Notification",
            "MessageId": secrets.token_hex(8),
            "TopicArn": topic,
            "Subject": "Amazon SES Email Event Notification",
            "Message": json.dumps(message),
            "Timestamp": iso(rig.clock() - age),
        },
        version,
    )


SES_BOUNCE = {
    "eventType": "Bounce",
    "mail": {
        "messageId": "0100-m1",
        "sourceIp": "198.51.100.4",
        "tags": {"ses:configuration-set": ["bulk"]},
    },
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "bouncedRecipients": [
            {"emailAddress": "a@x.com", "status": "5.1.1"},
            {"emailAddress": "b@x.com", "status": "5.7.1"},
        ],
    },
}
SES_DELIVERY = {
    "notificationType": "Delivery",
    "mail": {"messageId": "0100-m2", "sourceIp": "198.51.100.4", "tags": {}},
    "delivery": {
        "timestamp": "2026-01-01T00:00:00.000Z",
        "recipients": ["c@y.com"],
        "smtpResponse": "250 ok",
    },
}


async def test_ses_notifications_signed_v1_and_v2(rig: Rig) -> None:
    r1 = await rig.http.post("/hooks/ses", content=ses_notification(rig, SES_BOUNCE, version="1"))
    r2 = await rig.http.post("/hooks/ses", content=ses_notification(rig, SES_DELIVERY, version="2"))
    assert (r1.status_code, r2.status_code) == (200, 200)
    again = ses_notification(rig, SES_BOUNCE, version="2")  # SNS redelivery: same events
    assert (await rig.http.post("/hooks/ses", content=again)).status_code == 200
    assert rig.store.counts() == {
        ("ses", "198.18.0.9", None, B): 2,
        ("ses", None, None, D): 1,  # no config set: unattributed (sourceIp is the client)
    }
    assert rig.origin.gets == [SnsSigner.CERT_PATH]  # fetched once, then cached


async def test_ses_refusals(rig: Rig) -> None:
    other = ses_notification(rig, SES_BOUNCE, topic="arn:aws:sns:us-east-1:999:evil")
    assert (await rig.http.post("/hooks/ses", content=other)).status_code == 403
    doc = json.loads(ses_notification(rig, SES_BOUNCE))
    doc["Message"] = doc["Message"].replace("Permanent", "Transient")
    assert (await rig.http.post("/hooks/ses", content=json.dumps(doc))).status_code == 401
    for url in (
        "https://sns.us-east-1.amazonaws.com.evil.net/x.pem",
        "https://evil@sns.us-east-1.amazonaws.com/x.pem",
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
    ):
        d = json.loads(ses_notification(rig, SES_BOUNCE))
        d["SigningCertURL"] = url
        assert (await rig.http.post("/hooks/ses", content=json.dumps(d))).status_code == 401
    stale = ses_notification(rig, SES_BOUNCE, age=3601)
    assert (await rig.http.post("/hooks/ses", content=stale)).status_code == 401
    assert rig.store.total() == 0
    assert all(g == SnsSigner.CERT_PATH for g in rig.origin.gets)


async def test_ses_subscription_confirmation_gets_subscribe_url(rig: Rig) -> None:
    query = f"Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok123"
    body = rig.sns.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "c1",
            "Token": "tok123",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe...",
            "SubscribeURL": f"https://sns.us-east-1.amazonaws.com/?{query}",
            "Timestamp": iso(rig.clock()),
        }
    )
    assert (await rig.http.post("/hooks/ses", content=body)).status_code == 200
    assert rig.origin.gets == [SnsSigner.CERT_PATH, f"/?{query}"]
    evil = json.loads(body)
    evil["SubscribeURL"] = "https://attacker.example/?x"  # breaks the signature too
    assert (await rig.http.post("/hooks/ses", content=json.dumps(evil))).status_code == 401
    assert len(rig.origin.gets) == 2
    signed_elsewhere = rig.sns.sign(
        dict(json.loads(body), SubscribeURL="https://sns.us-east-1.amazonaws.com.evil/?x")
    )
    r = await rig.http.post("/hooks/ses", content=signed_elsewhere)
    assert r.status_code == 403
    assert len(rig.origin.gets) == 2
