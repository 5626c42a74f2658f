"""core/sources/reading.py: the replay reads lines exactly as the tailer handed them out,
and the reading record follows a file's batches (segments per flags, running CRC)."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from opsconsole.core.sources import reading
from opsconsole.core.sources.tail import Tailer


def tailer_lines(path: Path, max_bytes: int) -> list[str]:
    out: list[str] = []
    with Tailer(str(path), {}, max_bytes=max_bytes) as t:
        for b in t.iter_batches():
            out.extend(b.lines)
    return out


def test_iter_lines_equals_the_tailer(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    data = (
        b"plain\n\xff\xfe bad utf-8\r\n" + b"y" * 70_000 + b"\n\nshort\n"
        + "é✓\n".encode() + b"z" * 200_000 + b"\ntrailing partial"
    )  # fmt: skip
    p.write_bytes(data)
    fd = os.open(p, os.O_RDONLY)
    try:
        end = reading.complete_end(fd, len(data))
        assert end == len(data) - len(b"trailing partial")
        got = [line for lines in reading.iter_lines(fd, 0, end) for line in lines]
        small = [line for lines in reading.iter_lines(fd, 0, end, 65536) for line in lines]
        assert reading.crc_range(fd, 0, end) == zlib.crc32(data[:end])
    finally:
        os.close(fd)
    want = tailer_lines(p, 4096)
    assert got == want == small
    assert want[2].startswith('"overlong line skipped (70000 bytes)')


def test_advance_segments_and_crc(tmp_path: Path) -> None:
    data = b"a\nbb\nccc\ndddd\n"
    p1 = reading.params_of("postfix", {}, ())
    p2 = reading.params_of("postfix", {"postfix": "192.0.2.1"}, ())

    def crc(a: int, b: int):  # type: ignore[no-untyped-def]
        return lambda seed: zlib.crc32(data[a:b], seed)

    r = reading.advance(None, ino=7, start=0, end=5, crc_from=crc(0, 5), params=p1, now=100.0)
    r = reading.advance(r, ino=7, start=5, end=9, crc_from=crc(5, 9), params=p1, now=200.0)
    assert r["segs"] == [[9, 0, 100.0, 200.0]]
    r = reading.advance(r, ino=7, start=9, end=14, crc_from=crc(9, 14), params=p2, now=300.0)
    assert r["segs"] == [[9, 0, 100.0, 200.0], [14, 1, 300.0, 300.0]]
    assert r["crc"] == zlib.crc32(data) and r["params"] == [p1, p2]
    late = reading.advance(r, ino=7, start=14, end=14, crc_from=crc(14, 14), params=p2,
                           now=300.0 + reading.SEG_SPAN + 1)  # fmt: skip
    assert late["segs"] == r["segs"]  # a position-only batch adds no segment
    # a position the record does not describe (another inode, a gap) cannot be vouched for
    gap = reading.advance(r, ino=7, start=20, end=30, crc_from=crc(0, 1), params=p2, now=1.0)
    assert "broken" in gap
    other = reading.advance(r, ino=8, start=14, end=20, crc_from=crc(0, 1), params=p2, now=1.0)
    assert "broken" in other
    again = reading.advance(gap, ino=7, start=30, end=40, crc_from=crc(0, 1), params=p2, now=1)
    assert again["broken"] == gap["broken"]


def test_crc_combine_equals_zlib_on_the_concatenation() -> None:
    import random
    import zlib

    from opsconsole.core.sources.reading import crc_combine

    rng = random.Random(3)
    for _ in range(500):
        a = rng.randbytes(rng.choice([0, 1, 5, 300, 70_000]))
        b = rng.randbytes(rng.choice([0, 1, 2, 64, 8191, 100_000]))
        assert crc_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_chained_pieces_and_pairs_continue_the_running_crc() -> None:
    import zlib

    from opsconsole.core.sources.reading import Piece, chain, continued

    head, x, y = b"first part\n", b"one batch\n", b"the next one\n"
    seed = zlib.crc32(head)
    both = chain(Piece(zlib.crc32(x), len(x)), Piece(zlib.crc32(y), len(y)))
    assert continued(both, seed, len(x + y)) == zlib.crc32(head + x + y)
    assert continued(both, seed, len(x)) is None  # not the bytes it describes
    pairs = chain((seed, zlib.crc32(x, seed)), (zlib.crc32(x, seed), zlib.crc32(x + y, seed)))
    assert continued(pairs, seed, len(x + y)) == zlib.crc32(head + x + y)
    assert continued(pairs, seed + 1, len(x + y)) is None  # another seed: cannot say
    assert chain((1, 2), (3, 4)) is None  # not consecutive
    assert chain(Piece(1, 1), (1, 2)) is None and continued(None, seed, 1) is None
