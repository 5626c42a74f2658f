"""Metrics: the textfile node_exporter reads, and /metrics on loopback, from a real engine."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

from opsconsole.metrics import parse_listen
from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.wiring import engine_config, make_runtime


def test_listen_defaults_to_loopback() -> None:
    assert parse_listen("9109") == ("127.0.0.1", 9109)
    assert parse_listen(":9109") == ("127.0.0.1", 9109)
    assert parse_listen("0.0.0.0:9109") == ("0.0.0.0", 9109)


async def test_engine_writes_textfile_and_serves_metrics(tmp_path: Path, db_url: str) -> None:
    now = time.time()
    events = tmp_path / "events.jsonl"
    with events.open("w") as f:
        for i in range(100):
            kind = "bounced" if i < 20 else "delivered"
            f.write(json.dumps({"ts": now - 120 + i, "kind": kind, "ip": "192.0.2.9"}) + "\n")
    prom = tmp_path / "opsconsole.prom"
    settings = Settings(
        db=db_url,
        sources=[{"name": "ev", "format": "jsonl", "path": str(events)}],
        pools=[{"name": "bulk", "members": [{"ip": "192.0.2.9"}]}],
        metrics={"textfile": str(prom), "listen": "127.0.0.1:0"},
    )
    engine = await open_database(db_url)
    from opsconsole.core.engine.setup import apply_config

    store = SqlStore(engine)
    await apply_config(store, engine_config(settings), now)
    runtime = make_runtime(settings, store)
    try:
        await runtime.tick(force_check=True)
        text = prom.read_text()
        assert 'opsconsole_bounce_rate{ip="192.0.2.9",subuser=""} 0.2' in text
        assert 'opsconsole_pool_weight{pool="bulk",ip="192.0.2.9"} 0' in text  # removed
        assert 'opsconsole_alerts_open{severity="critical"} 1' in text
        host, port = runtime.services[0].server.server.sockets[0].getsockname()[:2]
        assert host == "127.0.0.1"
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://{host}:{port}/metrics")
            assert r.status_code == 200
            assert r.text == text
            assert (await client.get(f"http://{host}:{port}/other")).status_code == 404
    finally:
        await runtime.close()
        await engine.dispose()
        await asyncio.sleep(0)
