"""Load check: 20 signed SendGrid batches of 1,000 events through the real receiver
(127.0.0.1, real ECDSA verification, a SQLite file store with dedup). Prints events/s;
asserts nothing (no speed asserts: the number is for reading, not for CI).

    python -m bench.webhooks [--batches N] [--size N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx

from opsconsole.core.esp.receiver import EspReceiver, ReceiverConfig, SendgridHook
from tests.helpers.clock import FakeClock
from tests.helpers.esp_sign import SendgridSigner
from tests.helpers.esp_store import SqliteEventStore


def batch(b: int, size: int) -> bytes:
    kinds = ("delivered",) * 17 + ("deferred", "bounce", "open")
    events = []
    for i in range(size):
        n = b * size + i
        ev = kinds[n % len(kinds)]
        events.append(
            {
                "email": f"u{n}@example.com",
                "timestamp": 1_767_225_000,
                "event": ev,
                "ip": f"10.0.{n % 4}.1",
                "sg_event_id": f"e{n}",
                "sg_message_id": f"m{n}.f.1",
                "response": "250 OK",
                "type": "bounce",
                "status": "5.7.1",
            }
        )
    return json.dumps(events).encode()


async def run(batches: int, size: int) -> None:
    clock = FakeClock()
    signer = SendgridSigner()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteEventStore(Path(tmp) / "bench.db")
        receiver = EspReceiver(
            ReceiverConfig(sendgrid=SendgridHook(signer.public_key_b64)), store, clock=clock
        )
        server = receiver.server()
        await server.start("127.0.0.1", 0)
        bodies = [batch(b, size) for b in range(batches)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            t0 = time.perf_counter()
            for body in bodies:
                headers = signer.headers(body, int(clock()))
                r = await client.post("/hooks/sendgrid/bench", content=body, headers=headers)
                r.raise_for_status()
            wall = time.perf_counter() - t0
        await server.close()
        total = batches * size
        print(
            f"{total} events in {batches} batches: {wall:.2f} s, {total / wall:,.0f} events/s "
            f"({store.total()} stored, {receiver.stats.engagement_total()} engagement)"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--size", type=int, default=1000)
    args = ap.parse_args(argv)
    asyncio.run(run(args.batches, args.size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
