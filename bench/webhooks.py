"""Load check: 20 signed SendGrid batches of 1,000 events through the real receiver
(127.0.0.1, real ECDSA verification) into the real storage port (storage/esp.py: event-id
dedup, buckets, samples, counters in one transaction) while an engine ticks on the same
SQLite file. Prints events/s and the ratio to the 2,000 events/s target;
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
from tests.helpers.esp_sign import SendgridSigner


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


TARGET = 2000.0  # events/s the issue asks for, in SendGrid's batches of 1,000


async def run(batches: int, size: int) -> None:
    """The receiver on the real storage port (a migrated SQLite file, dedup + buckets in one
    transaction per POST) while an engine ticks on the same database."""
    from opsconsole.core.config import EngineConfig, MonitorConfig
    from opsconsole.core.engine.loop import EngineRuntime
    from opsconsole.core.events import system_clock
    from opsconsole.storage.store import open_store

    signer = SendgridSigner()
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        receiver = EspReceiver(
            ReceiverConfig(sendgrid=SendgridHook(signer.public_key_b64)),
            store.esp_events(system_clock),
            clock=system_clock,
        )
        engine = EngineRuntime(
            EngineConfig(host="bench", monitor=MonitorConfig(check_interval=1.0)),
            store,
            poll_interval=0.2,
        )
        stop = asyncio.Event()
        ticking = asyncio.create_task(engine.run(stop))
        server = receiver.server()
        await server.start("127.0.0.1", 0)
        bodies = [batch(b, size) for b in range(batches)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            t0 = time.perf_counter()
            for body in bodies:
                headers = signer.headers(body, int(time.time()))
                r = await client.post("/hooks/sendgrid/bench", content=body, headers=headers)
                r.raise_for_status()
            wall = time.perf_counter() - t0
        await server.close()
        stop.set()
        await ticking
        total = batches * size
        rate = total / wall
        print(
            f"{total} events in {batches} batches of {size} through the real storage port"
            f" while the engine ticks: {wall:.2f} s, {rate:,.0f} events/s,"
            f" {rate / TARGET:.2f}x the {TARGET:,.0f}/s target"
            f" ({receiver.stats.stored_new} stored new, {receiver.stats.engagement_total()}"
            " engagement)"
        )
        await store.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--size", type=int, default=1000)
    args = ap.parse_args(argv)
    asyncio.run(run(args.batches, args.size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
