"""ESP webhooks through a real ``opsconsole --no-ui`` engine: signed posts from 127.0.0.1
(keys generated here), counted exactly per IP and subuser in ``report --format json``;
replays count once; forged, stale and oversized posts are refused and change nothing; a
kill -9 during a burst loses no acknowledged event."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from typing import Any

import httpx

from tests.helpers.esp_sign import SendgridSigner, mailgun_doc
from tests.helpers.smtp_relay import free_port

MG_KEY = "key-" + uuid.uuid4().hex


def _config(h: Any, signer: SendgridSigner, port: int) -> None:
    h.write_config(
        "[webhooks]\n"
        f'listen = "127.0.0.1:{port}"\n'
        f'sendgrid_public_key = "{signer.public_key_b64}"\n'
        f'mailgun_signing_key = "{MG_KEY}"\n'
    )


def _wait_port(h: Any, ep: Any, port: int) -> None:
    def up() -> bool:
        if not ep.alive():
            raise AssertionError(ep.describe())
        try:
            return httpx.post(f"http://127.0.0.1:{port}/nope", timeout=1).status_code == 404
        except httpx.TransportError:
            return False

    h.wait_until(up, 15, "the webhook receiver to listen")


def sg_events(prefix: str, n: int, ip: str, event: str = "delivered") -> list[dict[str, Any]]:
    now = int(time.time())
    return [
        {
            "email": f"u{i}@example.com",
            "timestamp": now,
            "event": event,
            "ip": ip,
            "sg_event_id": f"{prefix}-{i}",
            "sg_message_id": f"{prefix}m{i}.filter1",
            "response": "250 OK",
            "reason": "550 5.1.1 user unknown",
            "status": "5.1.1",
            "type": "bounce",
        }
        for i in range(n)
    ]


def post_sg(
    port: int, signer: SendgridSigner, path: str, events: Any, ts: int | None = None
) -> int:
    body = json.dumps(events).encode()
    headers = signer.headers(body, int(time.time()) if ts is None else ts)
    return httpx.post(
        f"http://127.0.0.1:{port}{path}", content=body, headers=headers, timeout=10
    ).status_code


COUNTS = ("sent", "delivered", "bounced", "hard_bounced", "soft_bounced", "deferred",
          "complaints")  # fmt: skip


def ip_rows(h: Any) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Counts per (ip, subuser) from the per-IP report: each subuser's row, and the IP's
    events without a subuser (its totals less its subusers') under (ip, None)."""
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    for r in h.report()["ips"]:
        rest = {k: r[k] - sum(su[k] for su in r["subusers"]) for k in COUNTS}
        if any(rest.values()):
            out[(r["ip"], None)] = rest
        for su in r["subusers"]:
            out[(r["ip"], su["subuser"])] = su
    return out


def test_signed_posts_count_exactly_and_bad_ones_change_nothing(harness: Any) -> None:
    h = harness
    signer = SendgridSigner()
    port = free_port()
    _config(h, signer, port)
    ep = h.start_engine()
    _wait_port(h, ep, port)

    delivered = sg_events("d", 30, "10.0.0.1")
    bounced = sg_events("b", 4, "10.0.0.1", "bounce")
    opens = sg_events("o", 5, "203.0.113.77", "open")  # an open's ip is the reader's
    for o, d in zip(opens, delivered, strict=False):
        o["sg_message_id"] = d["sg_message_id"]  # joins to the delivery's sending IP
    assert post_sg(port, signer, "/hooks/sendgrid/primary", delivered + bounced + opens) == 200
    assert post_sg(port, signer, "/hooks/sendgrid", sg_events("x", 7, "10.0.0.3")) == 200
    now = int(time.time())
    for i in range(3):
        data = {
            "event": "failed" if i == 0 else "delivered",
            "severity": "permanent",
            "reason": "bounce",
            "id": f"mg{i}",
            "timestamp": now,
            "recipient": f"r{i}@example.org",
            "envelope": {"sending-ip": "10.0.0.2"},
            "delivery-status": {"code": 550, "message": "5.1.1 no such user"},
        }
        body = mailgun_doc(MG_KEY, now, uuid.uuid4().hex, data)
        r = httpx.post(f"http://127.0.0.1:{port}/hooks/mailgun/acct", content=body, timeout=10)
        assert r.status_code == 200
    # a replayed batch (a correctly signed retry) is acknowledged and counts once
    assert post_sg(port, signer, "/hooks/sendgrid/primary", delivered + bounced + opens) == 200

    before = h.totals()
    # forged: signed by another key
    assert (
        post_sg(port, SendgridSigner(), "/hooks/sendgrid/primary", sg_events("f", 3, "10.0.0.9"))
        == 401
    )
    # stale: a valid signature over a timestamp 10 minutes old
    stale = int(time.time()) - 600
    assert (
        post_sg(port, signer, "/hooks/sendgrid/primary", sg_events("s", 3, "10.0.0.9"), stale)
        == 401
    )
    # oversized: 2 MiB
    big = b"[" + b" " * (2 << 20) + b"]"
    r = httpx.post(
        f"http://127.0.0.1:{port}/hooks/sendgrid",
        content=big,
        headers=signer.headers(big, int(time.time())),
        timeout=10,
    )
    assert r.status_code == 413
    # bad JSON, correctly signed
    junk = b"{not json"
    r = httpx.post(
        f"http://127.0.0.1:{port}/hooks/sendgrid", content=junk,
        headers=signer.headers(junk, int(time.time())), timeout=10,
    )  # fmt: skip
    assert r.status_code == 400
    assert h.totals() == before

    rows = ip_rows(h)
    assert (
        rows[("10.0.0.1", "primary")]["delivered"],
        rows[("10.0.0.1", "primary")]["bounced"],
    ) == (30, 4)
    assert rows[("10.0.0.1", "primary")]["hard_bounced"] == 4
    assert rows[("10.0.0.1", "primary")]["sent"] == 34  # opens are never sent
    assert rows[("10.0.0.3", None)]["delivered"] == 7
    assert (rows[("10.0.0.2", "acct")]["delivered"], rows[("10.0.0.2", "acct")]["bounced"]) == (
        2,
        1,
    )
    assert not any(ip == "10.0.0.9" for ip, _ in rows)
    assert h.totals() == {"delivered": 39, "bounced": 5, "deferred": 0, "complaints": 0}
    eng = h.sql("SELECT ip, subuser, sum(opens), sum(clicks) FROM esp_engagement GROUP BY 1, 2")
    assert [tuple(r) for r in eng] == [("10.0.0.1", "primary", 5, 0)]
    # the secret is in no log line
    assert MG_KEY not in ep.describe()
    assert ep.stop() == 0

    # saved payloads through ingest: what the webhook stored counts once across both, and a
    # second run of the same file adds nothing
    saved = h.root / "sendgrid.jsonl"
    fresh = sg_events("file", 6, "10.0.0.4")
    saved.write_text(json.dumps(delivered) + "\n" + json.dumps(fresh) + "\nnot json\n")
    for _ in range(2):
        h.cli("ingest", str(saved), "--format", "sendgrid")
        assert h.totals() == {"delivered": 45, "bounced": 5, "deferred": 0, "complaints": 0}
    assert ip_rows(h)[("10.0.0.4", None)]["delivered"] == 6


def test_kill_9_during_a_burst_loses_no_acknowledged_event(harness: Any) -> None:
    h = harness
    signer = SendgridSigner()
    port = free_port()
    _config(h, signer, port)
    ep = h.start_engine()
    _wait_port(h, ep, port)

    acked: list[list[dict[str, Any]]] = []
    unacked: list[list[dict[str, Any]]] = []
    stop = threading.Event()

    def burst() -> None:
        b = 0
        while not stop.is_set():
            events = sg_events(f"k{b}", 50, f"10.1.0.{b % 3 + 1}")
            b += 1
            try:
                status = post_sg(port, signer, "/hooks/sendgrid/burst", events)
            except httpx.TransportError:
                status = 0
            (acked if status == 200 else unacked).append(events)
            if status == 0 and not ep.alive():
                return

    t = threading.Thread(target=burst)
    t.start()
    h.wait_until(lambda: len(acked) >= 10, 30, "some acknowledged batches")
    ep.proc.send_signal(signal.SIGKILL)
    ep.proc.wait(10)
    stop.set()
    t.join(30)

    stored = {r[0] for r in h.sql("SELECT event_id FROM esp_event WHERE source = 'sendgrid'")}
    acked_ids = {e["sg_event_id"] for batch in acked for e in batch}
    assert acked_ids <= stored  # every acknowledged event was committed
    # buckets hold exactly the stored ids, nothing twice
    assert h.totals()["delivered"] == len(stored)

    # the ESP retries what got no 2xx; a second engine takes them, each counted once
    ep2 = h.start_engine()
    _wait_port(h, ep2, port)
    for batch in unacked:
        assert post_sg(port, signer, "/hooks/sendgrid/burst", batch) == 200
    for batch in acked[:3]:  # and a few replays of acknowledged ones
        assert post_sg(port, signer, "/hooks/sendgrid/burst", batch) == 200
    total = sum(len(b) for b in acked) + sum(len(b) for b in unacked)
    assert h.totals()["delivered"] == total
    assert sum(r["delivered"] for r in h.report()["ips"]) == total
    assert ep2.stop() == 0
