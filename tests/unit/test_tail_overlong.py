"""The tailer skips a line longer than ``max_line`` bytes without holding it in memory,
counts it once (one OVERLONG marker, malformed for every parser) and keeps offsets exact."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opsconsole.core.sources import FORMATS, make_parser
from opsconsole.core.sources.tail import OVERLONG, Batch, Tailer
from tests.helpers.clock import FakeClock


def drain(t: Tailer) -> list[Batch]:
    out: list[Batch] = []
    while batch := t.poll():
        out.extend(batch)
    return out


def lines_of(batches: list[Batch]) -> list[str]:
    return [line for b in batches for line in b.lines]


@pytest.mark.parametrize("max_bytes", [64, 1000, 4096, 1 << 20])
def test_overlong_line_is_one_marker_and_offsets_stay_exact(tmp_path: Path, max_bytes: int) -> None:
    p = tmp_path / "x.log"
    fits = "f" * 2000
    long = "x" * 5001
    p.write_text(f"a\n{fits}\n{long}\nb\n{long}{long}\nc\n")
    with Tailer(str(p), max_bytes=max_bytes, max_line=2000) as t:
        got = drain(t)
    assert lines_of(got) == ["a", fits, OVERLONG.format(5001), "b", OVERLONG.format(10002), "c"]
    assert sum(b.overlong for b in got) == 2
    for a, b in itertools.pairwise(got):
        assert a.end_offset == b.start_offset
    assert got[-1].end_offset == p.stat().st_size


def test_overlong_partial_line_waits_for_its_newline_then_resumes(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_text("a\n" + "x" * 3000)
    with Tailer(str(p), max_bytes=256, max_line=1000) as t:
        assert lines_of(drain(t)) == ["a"]
        with p.open("a") as f:
            f.write("y" * 3000)
        assert lines_of(drain(t)) == []  # still no newline: nothing consumed
        ckpt = t.checkpoints()[str(p)]
        assert ckpt.offset == 2
        with p.open("a") as f:
            f.write("\nb\n")
        assert lines_of(drain(t)) == [OVERLONG.format(6000), "b"]
        assert t.checkpoints()[str(p)].offset == p.stat().st_size
    # a restart from the checkpoint before the long line reads the same
    with Tailer(str(p), [ckpt], max_bytes=256, max_line=1000) as t:
        assert lines_of(drain(t)) == [OVERLONG.format(6000), "b"]


def test_multibyte_line_measured_in_bytes(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    wide = "é" * 600  # 1200 bytes, 600 characters
    p.write_text(f"a\n{wide}\n{'é' * 400}\n", encoding="utf-8")
    for max_bytes in (100, 1 << 20):
        with Tailer(str(p), max_bytes=max_bytes, max_line=1000) as t:
            assert lines_of(drain(t)) == ["a", OVERLONG.format(1200), "é" * 400]


@pytest.mark.parametrize("fmt", FORMATS)
def test_marker_is_malformed_for_every_parser(fmt: str) -> None:
    parser = make_parser(fmt, now=FakeClock())
    assert list(parser.feed([OVERLONG.format(200 << 20)])) == []
    assert (parser.stats.lines, parser.stats.malformed) == (1, 1)


@pytest.mark.slow
def test_200mb_line_keeps_peak_rss_low(tmp_path: Path) -> None:
    p = tmp_path / "huge.log"
    size = 200 << 20
    with p.open("wb") as f:
        f.write(b"first\n")
        block = b"x" * (1 << 20)
        for _ in range(size >> 20):
            f.write(block)
        f.write(b"\nlast\n")
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        from opsconsole.core.sources.tail import Tailer
        lines, overlong, end = [], 0, 0
        with Tailer({str(p)!r}, max_bytes=8 << 20) as t:
            while batch := t.poll():
                for b in batch:
                    lines += [x[:40] for x in b.lines]
                    overlong += b.overlong
                    end = b.end_offset
        # Linux carries ru_maxrss over fork+exec from the (big) pytest parent; VmHWM is this
        # process image's own peak. getrusage where /proc is missing.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        try:
            with open("/proc/self/status") as f:
                rss = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
        except (OSError, StopIteration):
            pass
        print(json.dumps({{"lines": lines, "overlong": overlong, "end": end, "rss_kb": rss}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    got = json.loads(out.stdout)
    assert got["lines"] == ["first", OVERLONG.format(size)[:40], "last"]
    assert got["overlong"] == 1
    assert got["end"] == p.stat().st_size
    assert got["rss_kb"] < 80 * 1024, got["rss_kb"]  # far below the 200 MB line
