"""A followed source that goes quiet raises source_stale; it resolves once events flow."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from opsconsole.settings import Settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.wiring import make_runtime
from tests.helpers.clock import FakeClock


def append(path: Path, ts: float, n: int = 20) -> None:
    with path.open("a") as f:
        for i in range(n):
            f.write(json.dumps({"ts": ts + i, "kind": "delivered", "ip": "192.0.2.5"}) + "\n")


async def stale_alerts(engine) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT subuser, state FROM alert WHERE rule = 'source_stale' ORDER BY opened_at")
        )
        return [(r[0], r[1]) for r in rows]


def host_settings(db_url: str, host: str, src: Path) -> Settings:
    return Settings(
        db=db_url,
        host=host,
        sources=[{"name": "mta1", "format": "jsonl", "path": str(src)}],
        monitor={"stale_after": "5m", "recover_checks": 2, "check_interval": "1m"},
    )


async def test_quiet_source_raises_source_stale_then_recovers(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(1_800_000_000.0)
    src = tmp_path / "ev.jsonl"
    append(src, clock())
    settings = host_settings(db_url, "mx1", src)
    engine = await open_database(db_url)
    runtime = make_runtime(settings, SqlStore(engine), clock=clock)
    try:
        await runtime.tick(force_check=True)
        assert await stale_alerts(engine) == []
        clock.advance(4 * 60)
        await runtime.tick(force_check=True)
        assert await stale_alerts(engine) == []  # 4 min quiet: not yet
        clock.advance(2 * 60)
        await runtime.tick(force_check=True)
        assert await stale_alerts(engine) == [("mta1@mx1", "firing")]
        for _ in range(2):  # events again; resolves after recover_checks healthy checks
            clock.advance(60)
            append(src, clock())
            await runtime.tick(force_check=True)
        assert await stale_alerts(engine) == [("mta1@mx1", "resolved")]
    finally:
        await runtime.close()
        await engine.dispose()


async def test_a_fleet_counts_each_hosts_source_apart_and_flags_the_quiet_one(
    tmp_path: Path, db_url: str
) -> None:
    """Two hosts both name their log "mta1": each has its own counter row (exact lines),
    and only the host whose log went quiet raises source_stale, named by its host."""
    clock = FakeClock(1_800_000_000.0)
    srcs = {h: tmp_path / f"{h}.jsonl" for h in ("mx1", "mx2")}
    append(srcs["mx1"], clock(), 20)
    append(srcs["mx2"], clock(), 30)
    engine = await open_database(db_url)
    runtimes = {
        h: make_runtime(host_settings(db_url, h, src), SqlStore(engine), clock=clock)
        for h, src in srcs.items()
    }
    try:
        for _ in range(4):  # mx2 goes quiet; mx1 keeps reading
            for rt in runtimes.values():
                await rt.tick(force_check=True)
            clock.advance(2 * 60)
            append(srcs["mx1"], clock(), 5)
        for rt in runtimes.values():
            await rt.tick(force_check=True)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT host, source, lines FROM ingest_counter ORDER BY host")
            )
            assert [tuple(r) for r in rows] == [("mx1", "mta1", 40), ("mx2", "mta1", 30)]
        assert await stale_alerts(engine) == [("mta1@mx2", "firing")]
    finally:
        for rt in runtimes.values():
            await rt.close()
        await engine.dispose()
