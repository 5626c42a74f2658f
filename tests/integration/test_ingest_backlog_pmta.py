"""Two cores for a PowerMTA backlog (core/engine/backlog.py, the ``pmta`` split hook): the
worker reads the first part, the reader the rest with the columns of the file's first line.
Every database row must equal a one-process reading's, through the columnar path and the
line parser, whether the second part was taken (the columns at the split are the first
line's) or read again (a header restart with other columns before the split); a SIGKILL
at any moment of a CLI ingest then a rerun is exact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from opsconsole.core.engine import backlog
from opsconsole.core.sources import pmta_backlog
from tests.helpers import pmta_other
from tests.helpers.db import rows
from tests.integration.test_ingest_backlog import NOW, _ck, dump, read

pytestmark = pytest.mark.skipif(not pmta_backlog.available(), reason="pyarrow not installed")
SHARE = backlog.HOOKS["pmta"].share


def split_at(path: Path, batch_bytes: int, share: float = SHARE) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        split = backlog.plan_split(fd, 0, os.fstat(fd).st_size, batch_bytes, None, share)
    finally:
        os.close(fd)
    assert split is not None
    return split


@pytest.mark.parametrize("columnar", [True, False], ids=["columnar", "line-parser"])
def test_two_processes_equal_one(
    tmp_path: Path, db_url: str, columnar: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pmta_backlog, "ADAPTIVE", False)  # every batch through the fast path
    path = tmp_path / "acct.csv"
    ip_map = pmta_other.write(path, 5000, seed=21, ips=120, start=NOW - 4 * 3600, hours=3,
                              hostile=0.002)  # fmt: skip
    fast = pmta_backlog.add_batch if columnar else None
    assert read(db_url, path, two=False, fmt="pmta", ip_map=ip_map, fast=fast) == []
    want = dump(db_url)
    got = read(db_url, path, two=True, fmt="pmta", ip_map=ip_map, fast=fast)
    assert got == [split_at(path, 32 << 10)]  # taken: the file's one header holds throughout
    assert dump(db_url) == want
    assert want["bucket"] and want["signature_hit"] and want["bounce_sample"]


def read_both(db_url: str, path: Path, ip_map: dict[str, str]) -> tuple[list[int], Any]:
    """Read ``path`` through the columnar path in one process, then in two; the rows must
    be equal. (The splits taken, the one-process rows.)"""
    fast = pmta_backlog.add_batch
    read(db_url, path, two=False, fmt="pmta", ip_map=ip_map, fast=fast)
    want = dump(db_url)
    got = read(db_url, path, two=True, fmt="pmta", ip_map=ip_map, fast=fast)
    assert dump(db_url) == want
    return got, want


def test_a_backlog_too_big_to_hold_is_read_in_rounds(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader holds few rows of its own part: each round ends with the worker's part
    and the rows held, and the next round splits what is left; memory stays bounded and
    the result is the one-process reading's."""
    monkeypatch.setattr(backlog, "HOLD_ROWS", 300)
    path = tmp_path / "acct.csv"
    ip_map = pmta_other.write(path, 20_000, seed=23, ips=80, start=NOW - 4 * 3600, hours=3)
    got = read_both(db_url, path, ip_map)[0]
    assert len(got) >= 2 and all(s > 0 for s in got), got
    assert got == sorted(got)  # each round starts where the last one's commits ended


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
def test_an_early_worker_stops_where_its_first_batch_says(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, sparse: bool
) -> None:
    """An early worker picks its share after its first batch (sparse batches: the reader
    parses more); the reader's split waits for it, and the rows are those of one process."""
    monkeypatch.setattr(backlog, "SPARSE_ROWS", 10**9 if sparse else 0)
    path = tmp_path / "acct.csv"
    ip_map = pmta_other.write(path, 6000, seed=27, ips=40, start=NOW - 4 * 3600, hours=3)
    fast = pmta_backlog.add_batch
    assert read(db_url, path, two=False, fmt="pmta", ip_map=ip_map, fast=fast) == []
    want = dump(db_url)
    got = read(db_url, path, two=True, fmt="pmta", ip_map=ip_map, fast=fast, early=True)
    hook = backlog.HOOKS["pmta"]
    assert hook.sparse_share is not None and hook.sparse_share < hook.share
    share = hook.sparse_share if sparse else hook.share
    assert got[0] == split_at(path, 32 << 10, share), got  # taken, where the worker said
    assert dump(db_url) == want


LIMITS = {
    # each batch alone, frames decoded one at a time and queued by the worker one at a
    # time (byte budgets under one frame)
    "small": {"reader.GROUP_ROWS": 1, "backlog.AHEAD_BYTES": 1, "backlog.SEND_BYTES": 1},
    # groups as big as the frames already decoded, up to 64
    "big": {
        "reader.GROUP_MAX": 64,
        "reader.GROUP_ROWS": 10**9,
        "backlog.FRAMES_AHEAD": 64,
        "backlog.AHEAD_BYTES": 1 << 30,
        "backlog.SEND_FRAMES": 1024,
        "backlog.SEND_BYTES": 1 << 30,
    },
}


@pytest.mark.parametrize("limits", LIMITS.values(), ids=LIMITS.keys())
def test_group_and_frame_limits_keep_the_reading(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, limits: dict[str, int]
) -> None:
    """However groups and frames are cut, the rows are those of one process."""
    from opsconsole.core.engine import reader

    for name, value in limits.items():
        module, attr = name.split(".")
        monkeypatch.setattr(reader if module == "reader" else backlog, attr, value)
    path = tmp_path / "acct.csv"
    ip_map = pmta_other.write(path, 8000, seed=25, ips=60, start=NOW - 4 * 3600, hours=3)
    got = read_both(db_url, path, ip_map)[0]
    assert got and all(s > 0 for s in got), got


def test_a_group_is_cut_by_its_rows() -> None:
    from opsconsole.core.engine.reader import GROUP_MAX, GROUP_ROWS, _group_size

    assert _group_size([GROUP_ROWS + 5, 1]) == 1  # a big batch goes alone
    assert _group_size([GROUP_ROWS // 2, GROUP_ROWS // 2, 1]) == 2
    assert _group_size([1] * (GROUP_MAX + 3)) == GROUP_MAX
    assert _group_size([3]) == 1


def test_a_frozen_aggregate_thaws_equal() -> None:
    from opsconsole.core.aggregate import BatchAggregate
    from opsconsole.core.sources.base import ParseStats

    agg = BatchAggregate()
    agg.buckets.update({("192.0.2.1", "s", "gmail", m * 60): [m, 1, 0, 1, 0, 0] for m in range(50)})
    agg.signature_hits = {("192.0.2.1", "gmail", "sig", 60): 3}
    agg.events, agg.last_event_at, agg.ordered = 77, 1234.5, True
    stats = ParseStats()
    stats.lines, stats.unmapped = 80, {"vmta-x": 2}
    got, got_stats = backlog.thaw(backlog.freeze(agg, stats))
    assert (got.buckets, got.signature_hits, got.events, got.last_event_at, got.ordered) == (
        agg.buckets, agg.signature_hits, 77, 1234.5, True)  # fmt: skip
    assert (got_stats.lines, got_stats.unmapped) == (80, {"vmta-x": 2})


def test_a_header_restart_before_the_split_reads_the_rest_again(
    tmp_path: Path, db_url: str
) -> None:
    """A pipe restart with its own column order in the first part: the second part, read
    with the first line's columns, is refused and read again in order."""
    rng = random.Random(4)
    pool = pmta_other.ip_pool(40)
    other = ["type", "rcpt", "timeLogged", "dlvSourceIp", "vmta", "dsnStatus", "dsnDiag"]
    lines = [",".join(pmta_other.HEADER)]
    for i in range(4000):
        if i == 600:
            lines.append(",".join(other))
        rec = pmta_other.record(rng, pool, NOW - 3 * 3600 + i * 2)
        if i >= 600:  # the same record in the restart's columns
            f = dict(zip(pmta_other.HEADER, _fields(rec), strict=True))
            rec = ",".join(f[c] for c in other)
        lines.append(rec)
    path = tmp_path / "restart.csv"
    path.write_text("\n".join(lines) + "\n")
    got, want = read_both(db_url, path, pmta_other.vmta_map(pool))
    # refused, and so is each round after it (the first line's columns never hold again);
    # every round still commits the worker's part, so the rounds move on
    assert got[0] == -split_at(path, 32 << 10) and all(s < 0 for s in got), got
    assert [-s for s in got] == sorted(-s for s in got)
    assert sum(r[4] for r in want["bucket"]) > 0


def _fields(rec: str) -> list[str]:
    import csv

    return next(csv.reader([rec]))


@pytest.mark.sqlite_only
def test_sigkill_during_a_two_process_pmta_ingest_then_rerun_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    ip_map = pmta_other.write(path, 300_000, seed=12, ips=300, start=NOW - 20 * 3600, hours=19)
    assert path.stat().st_size > backlog.MIN_BYTES  # the CLI forks its worker early
    url_one = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    read(url_one, path, two=False, fmt="pmta", batch_bytes=8 << 20, ip_map=ip_map,
         fast=pmta_backlog.add_batch)  # fmt: skip
    want = dump(url_one)
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    maps = [a for k, v in ip_map.items() for a in ("--ip-map", f"{k}={v}")]
    cmd = [sys.executable, "-m", "opsconsole", "--db", url, "ingest", str(path),
           "--format", "pmta", *maps]  # fmt: skip
    rng = random.Random(6)
    for delay in sorted(0.3 + rng.random() * 1.5 for _ in range(5)):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=60)
        got = dump(url)
        if got["source_checkpoint"]:  # a committed prefix, nothing beyond it
            end = got["source_checkpoint"][0][5]
            n = rows(url, "SELECT coalesce(sum(delivered) + sum(bounced), 0) FROM bucket")[0][0]
            assert n == _outcomes_before(path, end, ip_map)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = dump(url)
    for table in ("bucket", "signature_hit", "bounce_sample"):
        assert got[table] == want[table], table
    assert got["ingest_counter"][0][3:11] == want["ingest_counter"][0][3:11]
    assert [_ck(r) for r in got["source_checkpoint"]] == [_ck(r) for r in want["source_checkpoint"]]


def _outcomes_before(path: Path, end: int, ip_map: dict[str, str]) -> int:
    """Deliveries and bounces in the file's first ``end`` bytes, by the line parser."""
    from opsconsole.core.events import Kind
    from opsconsole.core.sources.pmta import PmtaParser
    from opsconsole.core.sources.reading import iter_lines

    fd = os.open(path, os.O_RDONLY)
    try:
        p = PmtaParser(ip_map, now=lambda: NOW)
        kinds = (Kind.DELIVERED, Kind.BOUNCED)
        return sum(1 for lines in iter_lines(fd, 0, end) for e in p.feed(lines) if e[1] in kinds)
    finally:
        os.close(fd)
