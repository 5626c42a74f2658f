"""The columnar PowerMTA path (core/sources/pmta_backlog.py) against the line parser:
for every batch of several generators' files, hostile lines included, the aggregate
(every bucket, signature hit, bounce sample, event count, last event time), the ParseStats
(lines, events, ignored, malformed and its samples, unattributed, unmapped names) and the
parser state after the batch are equal. Batches the fast path declines go to the line
parser, so the test also checks that it did take the clean ones (it is not vacuous)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.sources import pmta_backlog
from opsconsole.core.sources.pmta import PmtaParser
from opsconsole.core.sources.tail import Tailer, decode_lines
from tests.helpers import pmta_other

pytestmark = pytest.mark.skipif(not pmta_backlog.available(), reason="pyarrow not installed")

NOW = 1_772_445_600.0


@pytest.fixture(autouse=True)
def every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compare every batch: the fast path must not step aside for cost reasons here."""
    monkeypatch.setattr(pmta_backlog, "ADAPTIVE", False)


def batches(path: Path, max_bytes: int) -> list[bytes]:
    with Tailer(str(path), max_bytes=max_bytes, raw_bytes=True) as t:
        out = [b.data for b in t.iter_batches() if b.data is not None]
    return out


def snapshot(parser: PmtaParser, agg: BatchAggregate) -> dict[str, object]:
    return {
        "buckets": agg.buckets,
        "hits": agg.signature_hits,
        "samples": agg.samples,
        "events": agg.events,
        "last": agg.last_event_at,
        "stats": parser.stats.take(),
        "state": parser.get_state(),
    }


def compare(path: Path, ip_map: dict[str, str], max_bytes: int = 64 << 10) -> tuple[int, int]:
    """Both paths over the file's batches; returns (batches, batches the fast path took)."""
    slow = PmtaParser(ip_map, now=lambda: NOW)
    fast = PmtaParser(ip_map, now=lambda: NOW)
    data = batches(path, max_bytes)
    took = 0
    for i, chunk in enumerate(data):
        a_slow, a_fast = BatchAggregate(), BatchAggregate()
        lines, _ = decode_lines(chunk)
        a_slow.add_all(slow.feed(lines))
        if pmta_backlog.add_batch(fast, a_fast, chunk):
            took += 1
        else:
            a_fast.add_all(fast.feed(lines))
        assert snapshot(fast, a_fast) == snapshot(slow, a_slow), f"batch {i}"
    return len(data), took


def test_simulator_file_shuffled_headers_blank_ips(tmp_path: Path) -> None:
    from opsconsole.simulator import Scenario, generate_events, write_file

    path = tmp_path / "sim.csv"
    events = generate_events(None, 6000, NOW - 6 * 3600, NOW - 60, seed=4)
    write_file("pmta", str(path), events, seed=4, shuffle_columns=True, header_every=2500,
               blank_source_ip=0.5)  # fmt: skip
    n, took = compare(path, Scenario.default().ip_map("pmta"))
    assert took >= n // 2 > 0


def test_simulator_default_file(tmp_path: Path) -> None:
    from opsconsole.simulator import Scenario, generate_events, write_file

    path = tmp_path / "sim.csv"
    write_file("pmta", str(path), generate_events(None, 5000, NOW - 7200, NOW - 60, seed=2), seed=2)
    n, took = compare(path, Scenario.default().ip_map("pmta"))
    assert took == n


def test_other_generator_quoted_reordered_many_ips(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    ip_map = pmta_other.write(path, 8000, seed=3, ips=900, start=NOW - 20 * 3600, hours=19)
    ip_map["pool-3"] = "192.0.2.3"
    n, took = compare(path, ip_map)
    assert took == n


def test_other_generator_without_map_lists_unmapped(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    pmta_other.write(path, 3000, seed=8, ips=200, start=NOW - 3600, hours=0.9)
    n, took = compare(path, {}, max_bytes=1 << 20)
    assert took == n


def test_hostile_lines_are_judged_exactly(tmp_path: Path) -> None:
    path = tmp_path / "hostile.csv"
    ip_map = pmta_other.write(path, 6000, seed=5, start=NOW - 3 * 3600, hours=2, hostile=0.002)
    n, took = compare(path, ip_map, max_bytes=16 << 10)
    assert 0 < took < n  # some batches held a hostile line and went to the line parser


def test_long_lines_and_invalid_utf8_inside_a_batch(tmp_path: Path) -> None:
    """Lines the tailer hands over raw inside a big batch: one over the 64 KiB limit (the
    line parser sees an OVERLONG marker, so the batch must go to it), one just under, and
    invalid UTF-8 in a column the fast path reads and in one it does not."""
    rng = random.Random(3)
    pool = pmta_other.ip_pool(5)
    good = [pmta_other.record(rng, pool, NOW - 600 + i) for i in range(30)]
    row = "b,,vmta-0,2026-03-02 09:00:00+0000,198.51.0.1,a@gmail.com,5.1.1,{},,o,1,e,,,1"
    cases = {
        "overlong": row.format('"' + "x" * (70 << 10) + '"'),
        "just under": row.format('"' + "x" * (60 << 10) + '"'),
        "bad utf-8 read": row.format("x\udcff"),
        "bad utf-8 unread": row.format("x").replace(",o,", ",o\udcff,"),
    }
    for name, line in cases.items():
        path = tmp_path / f"{name}.csv"
        text = "\n".join([",".join(pmta_other.HEADER), *good[:10], line, *good[10:]]) + "\n"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        assert compare(path, pmta_other.vmta_map(pool), max_bytes=1 << 20)[0] == 1, name


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_random_mixes_of_clean_and_hostile_lines(tmp_path_factory, data) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    pool = pmta_other.ip_pool(30)
    lines = [",".join(pmta_other.HEADER)]
    for _ in range(data.draw(st.integers(1, 60))):
        if rng.random() < data.draw(st.floats(0, 0.3)):
            lines.append(rng.choice(pmta_other.HOSTILE))
        else:
            lines.append(pmta_other.record(rng, pool, NOW - rng.random() * 86_400 * 2))
    path = tmp_path_factory.mktemp("mix") / "mix.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    compare(path, pmta_other.vmta_map(pool), max_bytes=data.draw(st.sampled_from([512, 4096])))


def test_random_seconds_stay_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distinct time per row (random seconds, four layouts and Unix seconds) is grouped
    by minute in Arrow: the fast path keeps every batch, with the line parser's results.
    (It used to step aside here; the time is no longer judged per distinct value.)"""
    monkeypatch.setattr(pmta_backlog, "ADAPTIVE", True)
    path = tmp_path / "other.csv"
    ip_map = pmta_other.write(path, 12000, seed=3, start=NOW - 20 * 3600, hours=19)
    n, took = compare(path, ip_map, max_bytes=512 << 10)
    assert took == n and n > 3


HEAD = "type,timeLogged,vmta,dlvSourceIp,rcpt\n"


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-03-02 09:59:60+0000",  # a leap second: the next minute, as the parser reads it
        "2026-03-02 09:59:61+0000",  # malformed
        "2026-03-02 09:59:07-0930",
        "2026-03-02 09:59:07",
        "2026-13-02 09:59:07+0000",  # malformed
        "2026-03-02 09:59:0x+0000",
        "2026-03-02T09:59:07+0000",
        "1772445000",
        "1772445000.5",
        "0017",  # out of range
        "2099-03-02 09:59:07+0000",  # ahead of now
        " 2026-03-02 09:59:07+0000",
    ],
)
def test_time_layouts_both_paths(tmp_path: Path, stamp: str) -> None:
    rows = [
        f"d,2026-03-02 09:{m:02d}:1{m % 10}+0000,v1,192.0.2.{m % 3},u@gmail.com" for m in range(40)
    ]
    rows[17] = f"b,{stamp},v1,192.0.2.9,u@yahoo.com"
    path = tmp_path / "t.csv"
    path.write_text(HEAD + "\n".join(rows) + "\n")
    n, took = compare(path, {"v1": "192.0.2.1"}, max_bytes=1 << 20)
    malformed = ("09:59:61", "2026-13", ":0x", "0017", "2099")
    assert (n, took) == (1, 0 if any(m in stamp for m in malformed) else 1)


@pytest.mark.parametrize(
    "stamp",
    [  # the standard layout is judged in two parts ([16:19] and the rest): near misses
        "2026-03-02 09:59:7+0000",
        "2026-03-02 09:59;07+0000",
        "2026-03-02 09:59:07+00000",
        "2026-03-02 09:59:07+000",
        "2026-03-02 09:5\u0669:07+0000",  # an Arabic-Indic digit
        "2026-03-02 09:59:\u0660\u0667+0000",
        "2026-03-02 09:59:07 +0000",
        "2026-03-02 09:59",
        "2026-03-02 09:59:07+0000x",
    ],
)
def test_near_misses_of_the_standard_time_layout_both_paths(tmp_path: Path, stamp: str) -> None:
    rows = [f"d,2026-03-02 09:{m:02d}:0{m % 10}+0000,v1,192.0.2.1,u@gmail.com" for m in range(40)]
    rows[9] = f"b,{stamp},v1,192.0.2.9,u@yahoo.com"
    path = tmp_path / "t.csv"
    path.write_text(HEAD + "\n".join(rows) + "\n")
    assert compare(path, {"v1": "192.0.2.1"}, max_bytes=1 << 20)[0] == 1  # both alike


def test_guide_samples_both_paths(samples: Path, tmp_path: Path) -> None:
    """The PowerMTA guide's own lines (tests/unit/test_parse_pmta.py judges their events)."""
    global NOW
    saved, NOW = NOW, 1_549_700_000.0  # 2019-02-09: the guide's timestamps are in range
    try:
        path = tmp_path / "guide.csv"
        path.write_bytes((samples / "pmta" / "acct-guide-samples.csv").read_bytes())
        compare(path, {"pmta-vmta0": "192.0.2.10"}, max_bytes=1 << 20)
    finally:
        NOW = saved


def test_reader_commits_the_same_through_either_path(tmp_path: Path) -> None:
    """SourceReader with and without the fast path: the same ParseStats totals and
    checkpoint (the store is a recording double of ReaderStore.commit_batch)."""
    import asyncio

    from opsconsole.core.engine.reader import SourceReader, SourceSpec

    path = tmp_path / "other.csv"
    ip_map = pmta_other.write(path, 4000, seed=9, start=NOW - 7200, hours=1.5, hostile=0.001)

    class Store:
        def __init__(self) -> None:
            self.batches: list[tuple[object, ...]] = []

        async def load_checkpoints(self, host: str) -> dict[str, object]:
            return {}

        async def commit_batch(self, **kw: object) -> None:
            agg = kw["agg"]
            cp = kw["checkpoint"]
            self.batches.append((sorted(agg.buckets.items()), agg.signature_hits,  # type: ignore[attr-defined]
                                 agg.samples, kw["stats"], cp.checkpoint.offset))  # type: ignore[attr-defined]  # fmt: skip

        async def record_source_error(self, *a: object) -> None:
            return None

    async def run(fast: bool) -> tuple[list[tuple[object, ...]], object]:
        store = Store()
        spec = SourceSpec("s", "pmta", str(path), ip_map)
        r = SourceReader(
            store,  # type: ignore[arg-type]
            spec,
            clock=lambda: NOW,
            batch_bytes=64 << 10,
            fast_batch=pmta_backlog.add_batch if fast else None,
        )
        await r.open()
        await r.poll()
        r.close()
        return store.batches, r.totals

    fast, slow = asyncio.run(run(True)), asyncio.run(run(False))
    assert fast == slow
    assert len(fast[0]) > 5


def test_recipient_domains_both_paths(tmp_path: Path) -> None:
    """The domain is what follows the last @ (all of the address without one), as the
    line parser reads it; Arrow splits once from the right."""
    odd = ["a@b@gmail.com", "nodomain", "", "<u@Yahoo.COM>", "u@", "@x.com", "u@@hotmail.com"]
    rows = [f"b,2026-03-02 09:{m:02d}:07+0000,v1,192.0.2.1,{odd[m % len(odd)]}" for m in range(40)]
    path = tmp_path / "t.csv"
    path.write_text(HEAD + "\n".join(rows) + "\n")
    assert compare(path, {"v1": "192.0.2.1"}, max_bytes=1 << 20) == (1, 1)
