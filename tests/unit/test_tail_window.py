"""A raw Tailer reads a window up to its last newline when that newline is in the window's
tail (Tailer._window): its batches (offsets, bytes, checkpoints) must be exactly those of
one read of the whole window, whatever the line lengths: lines longer than the tail probe
across a window's end, a window without a newline, the file's end. Raw batches are cut by
bytes alone (no max_lines), and the backlog's split walk (backlog.boundary, which probes
the same way) finds exactly their boundaries."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from opsconsole.core.sources import tail
from opsconsole.core.sources.tail import Tailer


def cut(path: Path, max_bytes: int, max_lines: int | None) -> list[tuple[int, int, bytes, str]]:
    with Tailer(str(path), max_bytes=max_bytes, max_lines=max_lines, raw_bytes=True) as t:
        return [
            (b.start_offset, b.end_offset, bytes(b.data or b""), b.checkpoint.first_line_hash)
            for b in t.iter_batches()
        ]


def write_lines(path: Path, seed: int, n: int, long_share: float, end: str = "\n") -> None:
    """``n`` lines of 20-300 bytes, ``long_share`` of them 1000-9000 (past the probe)."""
    rng = random.Random(seed)
    sizes = [rng.choice([20, 80, 300]) if rng.random() > long_share else rng.randint(1000, 9000)
             for _ in range(n)]  # fmt: skip
    path.write_text("\n".join(f"{i}," + "x" * k for i, k in enumerate(sizes)) + end)


@pytest.mark.parametrize("seed", range(6))
def test_the_probe_cuts_as_one_read_does(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.csv"
    write_lines(path, seed, 3000, 0.01, "\n" if seed % 2 else "\nno newline at the end")
    monkeypatch.setattr(tail, "PROBE_BYTES", 2048)  # lines longer than the probe, often
    sizes: list[int] = []
    pread = tail.os.pread

    def counted(fd: int, n: int, at: int) -> bytes:
        sizes.append(n)
        return pread(fd, n, at)

    monkeypatch.setattr(tail.os, "pread", counted)
    got = {m: cut(path, 32 << 10, m) for m in (None, 50)}
    monkeypatch.setattr(tail.os, "pread", pread)
    probed = sizes.count(2048)
    exact = sum(1 for n in sizes if n not in (2048, 32 << 10) and n > 2048)
    assert probed > 5 and exact > 5  # the probe found most windows' last newline
    monkeypatch.setattr(tail, "PROBE_BYTES", 1 << 30)  # never probes: one read per window
    want = {m: cut(path, 32 << 10, m) for m in (None, 50)}
    assert got == want
    assert len(want[None]) > 8 and want[50] == want[None]  # raw: bytes alone cut


@pytest.mark.parametrize("seed", range(4))
def test_the_split_walk_finds_the_raw_tailers_boundaries(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsconsole.core.engine import backlog

    path = tmp_path / "f.csv"
    write_lines(path, seed, 4000, 0.02)
    for probe in (1024, 1 << 30):  # the walk's probe finds the last newline, or reads all
        monkeypatch.setattr(tail, "PROBE_BYTES", probe)
        monkeypatch.setattr(backlog, "PROBE_BYTES", probe)
        ends = [end for _s, end, _d, _h in cut(path, 16 << 10, None)]
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            walked = [backlog.boundary(fd, 0, 16 << 10, None, t) for t in range(0, size, 997)]
        finally:
            os.close(fd)
        # the first tailer boundary at or past each target (None within the last window)
        want = [next((e for e in ends[:-1] if e >= t), None) for t in range(0, size, 997)]
        assert walked == want and len(set(walked)) > 20
