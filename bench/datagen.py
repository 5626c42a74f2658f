"""Benchmark inputs, generated once into ``bench/data/`` and reused while their parameters
are unchanged (the file name carries them, a ``.ok`` marker says it was completed).

- MTA logs come from the project's simulator (``opsconsole.simulator``), the same
  traffic model as ``opsconsole simulate``.
- Bucket databases are written straight with ``sqlite3.executemany`` into the schema the
  application creates (``open_database`` runs its migrations first), in primary-key order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import DATA, db_url, remove_db

# Fixed end of all generated traffic, 2026-03-02T10:00:00Z: runs are reproducible and the
# report/check jobs pass this "now" explicitly.
END = 1_772_445_600


def _done(path: Path) -> bool:
    return path.exists() and Path(f"{path}.ok").exists()


def _mark(path: Path) -> None:
    Path(f"{path}.ok").write_text("ok\n")


# --------------------------------------------------------------------------- MTA logs


def mta_log(
    fmt: str,
    events: int,
    *,
    seed: int = 1,
    hours: float = 24,
    style: str | None = None,
    shuffle_columns: bool = False,
    scenario: Any = None,
    tag: str = "",
    end: float = END,
) -> Path:
    """A simulated ``fmt`` log of ``events`` events over ``hours`` ending at ``end``."""
    from opsconsole.simulator import generate_events, write_file

    DATA.mkdir(parents=True, exist_ok=True)
    parts = [fmt, str(events), f"s{seed}", f"{hours:g}h"]
    if style:
        parts.append(style)
    if shuffle_columns:
        parts.append("shuffled")
    if tag:
        parts.append(tag)
    ext = {"pmta": "csv", "postfix": "log", "kumo": "jsonl", "jsonl": "jsonl"}[fmt]
    path = DATA / f"{'-'.join(parts)}.{ext}"
    if _done(path):
        return path
    options: dict[str, Any] = {}
    if style:
        options["style"] = style
    if shuffle_columns:
        options["shuffle_columns"] = True
    stream = generate_events(scenario, events, end - hours * 3600, end, seed=seed)
    write_file(fmt, str(path), stream, scenario=scenario, seed=seed, **options)
    _mark(path)
    return path


def postfix_events_for_lines(lines: int) -> int:
    """The simulator writes ~1.73 Postfix lines per event (smtp, qmgr/cleanup noise, NDRs)."""
    return round(lines / 1.7254)


# --------------------------------------------------------------------------- bucket stores


def ip_list(n: int) -> list[str]:
    """``n`` distinct addresses 10.0.0.1, 10.0.0.2 ... (last octet 1-250)."""
    return [f"10.{i // 62500 % 250}.{i // 250 % 250}.{i % 250 + 1}" for i in range(n)]


def pools_toml(ips: list[str], per_pool: int = 500) -> str:
    """A config with every IP in a rotation pool (a fleet of ``len(ips)`` IPs)."""
    out = []
    for k in range(0, len(ips), per_pool):
        out.append(f'[[pools]]\nname = "pool{k // per_pool + 1}"')
        members = ", ".join(f'{{ ip = "{ip}" }}' for ip in ips[k : k + per_pool])
        out.append(f"members = [{members}]\n")
    return "\n".join(out)


def _counts(i: int, m: int) -> tuple[int, int, int, int, int, int]:
    """Deterministic, varied counters for IP index ``i`` in minute index ``m``. Every 50th
    IP bounces ~12% (critical), every 50th+1 ~6% (warning), the rest ~1%."""
    sent = 8 + (i * 7 + m * 3) % 17
    if i % 50 == 0:
        bounced = sent // 8 + (m % 2)
    elif i % 50 == 1:
        bounced = sent // 16 + (m % 2)
    else:
        bounced = 1 if (i + m) % 6 == 0 else 0
    hard = bounced * 2 // 3
    deferred = (i + m) % 3 // 2
    complaints = 1 if (i * 31 + m) % 997 == 0 else 0
    return sent - bounced, bounced, hard, bounced - hard, deferred, complaints


def _dense_rows(ips: list[str], first: int, minutes: int) -> Iterator[tuple[Any, ...]]:
    for i, ip in enumerate(ips):
        for m in range(minutes):
            yield (ip, "", first + m * 60, *_counts(i, m))


def _sparse_rows(
    ips: list[str], first: int, days: int, burst: int, dense_last: int
) -> Iterator[tuple[Any, ...]]:
    """Per IP: one campaign of ``burst`` consecutive minutes a day for ``days`` days (the
    start moving with the IP and the day), then every minute of the last ``dense_last``."""
    dense_from = first + days * 86400 - dense_last * 60
    for i, ip in enumerate(ips):
        for d in range(days):
            start = first + d * 86400 + ((i * 37 + d * 101) % (1440 - burst)) * 60
            for m in range(burst):
                minute = start + m * 60
                if minute < dense_from:
                    yield (ip, "", minute, *_counts(i, m))
        for m in range(dense_last):
            yield (ip, "", dense_from + m * 60, *_counts(i, m))


async def _create_schema(path: Path, config: Path | None) -> None:
    from opsconsole.core.engine.setup import apply_config
    from opsconsole.settings import load_settings
    from opsconsole.storage.db import open_database
    from opsconsole.storage.store import SqlStore
    from opsconsole.wiring import engine_config

    engine = await open_database(db_url(path))
    try:
        if config is not None:
            settings = load_settings(config, db=db_url(path))
            await apply_config(SqlStore(engine), engine_config(settings), END - 86400)
    finally:
        await engine.dispose()


def _fill(path: Path, rows: Iterator[tuple[Any, ...]]) -> int:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    n = 0
    batch: list[tuple[Any, ...]] = []
    sql = (
        "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft, deferred,"
        " complaints) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    with con:
        for row in rows:
            batch.append(row)
            if len(batch) >= 200_000:
                con.executemany(sql, batch)
                n += len(batch)
                batch.clear()
        con.executemany(sql, batch)
        n += len(batch)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return n


def bucket_store(
    kind: str, n_ips: int, *, minutes: int = 1440, days: int = 90, burst: int = 15
) -> tuple[Path, Path, int]:
    """(database, config, rows). ``kind`` ``dense``: every IP in each of the last
    ``minutes`` minutes before END. ``sparse``: ``days`` days, each IP one ``burst``-minute
    campaign a day plus every minute of the last hour. Pools hold all IPs (500 per pool).
    Left as the application leaves it: no ANALYZE."""
    DATA.mkdir(parents=True, exist_ok=True)
    name = (
        f"buckets-dense-{n_ips}ip-{minutes}m"
        if kind == "dense"
        else f"buckets-sparse-{n_ips}ip-{days}d-{burst}m"
    )
    path = DATA / f"{name}.db"
    config = DATA / f"{name}.toml"
    meta = Path(f"{path}.ok")
    if _done(path) and config.exists():
        return path, config, int(meta.read_text().split()[1])
    remove_db(path)
    ips = ip_list(n_ips)
    config.write_text(pools_toml(ips))
    asyncio.run(_create_schema(path, config))
    if kind == "dense":
        first = END - minutes * 60
        rows = _fill(path, _dense_rows(ips, first, minutes))
    else:
        first = END - days * 86400
        rows = _fill(path, _sparse_rows(ips, first, days, burst, 60))
    meta.write_text(f"ok {rows}\n")
    return path, config, rows
