"""What a file was read with, and how to read it again (``ingest --rescan``): no SQL.

Every committed batch of a file carries, inside its checkpoint's parser state (key
:data:`KEY`), a *reading record* of the file identity it describes::

    {"ino": inode, "end": offset, "crc": crc32 of bytes [0, end),
     "params": [{"fmt", "ip_map", "relays"}, ...],
     "segs": [[end, param index, first clock, last clock], ...]}

A *segment* is a run of bytes read with one set of parameters within :data:`SEG_SPAN`
seconds of reading clock; a new one starts when the flags change (``ingest`` without
``--ip-map``, then with it) or the clock moved on. That is enough to reproduce exactly
what the file contributed: :func:`replay` reads bytes [0, end) again, each segment with
its own parameters and clock (the parsers depend on the clock only for the year of classic
syslog stamps and the "more than a day ahead" cut), carrying parser state across
segments exactly as the readers did. The CRC (running, so batch splits do not matter)
proves the file still holds the bytes that were read; a record that cannot vouch for its
bytes (a position from before records were kept, a range read in a way it cannot follow)
is ``{"ino", "end", "broken": why}`` and a rescan refuses it.

The record costs one JSON value per file position (a few hundred bytes, one segment per
12 hours of tailing), not a copy of the file's buckets.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from opsconsole.core.sources.tail import MAX_LINE_BYTES, OVERLONG

KEY = "_reading"
SEG_SPAN = 12 * 3600.0  # a segment's clocks stay within this (see module doc)
MAX_SEGS = 4096
READ_BYTES = 8 << 20


def params_of(fmt: str, ip_map: Mapping[str, str], relays: tuple[str, ...] | list[str]) -> dict:
    return {"fmt": fmt, "ip_map": dict(sorted(ip_map.items())), "relays": list(relays)}


def record_of(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    rec = state.get(KEY) if isinstance(state, Mapping) else None
    return rec if isinstance(rec, dict) else None


def crc_range(fd: int, start: int, end: int, crc: int = 0) -> int:
    pos = start
    while pos < end:
        buf = os.pread(fd, min(READ_BYTES, end - pos), pos)
        if not buf:
            raise OSError(f"file ended at {pos} bytes, before {end}")
        crc = zlib.crc32(buf, crc)
        pos += len(buf)
    return crc


# CRC-32 of concatenated pieces from the pieces' own CRCs (zlib's crc32_combine, which
# Python's zlib does not expose): polynomial arithmetic modulo the CRC polynomial, bits
# reflected as zlib keeps them (bit 31 is x^0). A batch's CRC can then be taken where and
# when its bytes are at hand, before the CRC of what precedes it is known.
_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the polynomial."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    out, p = [], 1 << 30  # x^1
    for _ in range(32):
        out.append(p)  # x^(2^k)
        p = _multmodp(p, p)
    return out


_X2N = _x2n_table()


def crc_combine(crc1: int, crc2: int, len2: int) -> int:
    """``zlib.crc32(a + b)`` from ``crc1 = zlib.crc32(a)``, ``crc2 = zlib.crc32(b)`` and
    ``len2 = len(b)`` (likewise ``zlib.crc32(b, crc1)``); a few hundred integer steps."""
    p, n, k = 1 << 31, len2, 3  # x^(8 * len2): n bytes, k = log2(8)
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2


class Piece(NamedTuple):
    """The CRC of a batch's bytes on their own (``zlib.crc32(data)``), and their length."""

    crc: int
    length: int


Crc = tuple[int, int] | Piece | None  # (seed, CRC continued from seed), a Piece, or unknown


def chain(a: Crc, b: Crc) -> Crc:
    """The CRC of two consecutive batches' bytes taken together, from each one's."""
    if isinstance(a, Piece) and isinstance(b, Piece):
        return Piece(crc_combine(a.crc, b.crc, b.length), a.length + b.length)
    if a is None or b is None or isinstance(a, Piece) or isinstance(b, Piece):
        return None
    return (a[0], b[1]) if b[0] == a[1] else None


def continued(crc: Crc, seed: int, length: int) -> int | None:
    """The running CRC after ``length`` bytes whose CRC record is ``crc``, continued from
    ``seed``; None when the record cannot say."""
    if isinstance(crc, Piece):
        return crc_combine(seed, crc.crc, length) if crc.length == length else None
    return crc[1] if crc is not None and crc[0] == seed else None


def running_crc(state: Mapping[str, Any] | None) -> int | None:
    """The running CRC the next batch continues from, per the reading record in a saved
    parser ``state`` (None when the record has none to continue)."""
    rec = record_of(state)
    crc = rec.get("crc") if rec is not None and "broken" not in rec else None
    return crc if isinstance(crc, int) else None


def advance(
    prev: Mapping[str, Any] | None,
    *,
    ino: int,
    start: int,
    end: int,
    crc_from: Callable[[int], int | None],
    params: dict,
    now: float,
) -> dict[str, Any]:
    """The record after a batch of bytes [start, end) of file ``ino`` read with ``params``
    at clock ``now``; ``crc_from(seed)`` is the running CRC32 of those bytes continued
    from ``seed`` (None: they could not be read back)."""
    if start == 0:
        crc = crc_from(0)
        if crc is None:
            return {"ino": ino, "end": end, "broken": "its bytes could not be read back"}
        return {"ino": ino, "end": end, "crc": crc, "params": [params],
                "segs": [[end, 0, now, now]]}  # fmt: skip
    if prev is None or prev.get("ino") != ino or prev.get("end") != start:
        return {"ino": ino, "end": end, "broken": "it was read before rescans were recorded"}
    if "broken" in prev:
        return {"ino": ino, "end": end, "broken": prev["broken"]}
    total = crc_from(int(prev["crc"]))
    if total is None:
        return {"ino": ino, "end": end, "broken": "its bytes could not be read back"}
    plist = list(prev["params"])
    segs = [list(s) for s in prev["segs"]]
    last = segs[-1]
    if start == end:
        pass
    elif plist[last[1]] == params and now - last[2] <= SEG_SPAN:
        last[0] = end
        last[3] = max(last[3], now)
    else:
        if params in plist:
            idx = plist.index(params)
        else:
            plist.append(params)
            idx = len(plist) - 1
        segs.append([end, idx, now, now])
        if len(segs) > MAX_SEGS:
            return {"ino": ino, "end": end, "broken": "it was read in too many sittings"}
    return {"ino": ino, "end": end, "crc": total, "params": plist, "segs": segs}


def iter_lines(
    fd: int, start: int, end: int, max_line: int = MAX_LINE_BYTES
) -> Iterator[list[str]]:
    """The complete lines of bytes [start, end) in batches, split and decoded exactly as
    the tailer hands them out (``\\n`` only, UTF-8 with replacement, a line longer than
    ``max_line`` bytes as one :data:`OVERLONG` marker, never held in memory)."""
    pos = start
    carry = b""
    skipping = -1  # length so far of an overlong line being skipped, or -1
    while pos < end:
        buf = os.pread(fd, min(READ_BYTES, end - pos), pos)
        if not buf:
            break
        pos += len(buf)
        out: list[str] = []
        i = 0
        while True:
            j = buf.find(b"\n", i)
            if j < 0:
                break
            part = buf[i:j]
            if skipping >= 0:
                out.append(OVERLONG.format(skipping + len(part)))
                skipping = -1
            elif carry:
                line = carry + part
                carry = b""
                out.append(
                    OVERLONG.format(len(line))
                    if len(line) > max_line
                    else str(line, "utf-8", "replace")
                )
            elif len(part) > max_line:
                out.append(OVERLONG.format(len(part)))
            else:
                out.append(str(part, "utf-8", "replace"))
            i = j + 1
        rest = buf[i:]
        if skipping >= 0:
            skipping += len(rest)
        elif len(carry) + len(rest) > max_line:
            skipping = len(carry) + len(rest)
            carry = b""
        else:
            carry += rest
        if out:
            yield out


def complete_end(fd: int, size: int) -> int:
    """The offset just after the last newline of the file's first ``size`` bytes."""
    pos = size
    while pos > 0:
        n = min(1 << 16, pos)
        buf = os.pread(fd, n, pos - n)
        k = buf.rfind(b"\n")
        if k >= 0:
            return pos - n + k + 1
        pos -= n
    return 0


Feed = Callable[[Any, list[str]], None]


def _fixed(t: float) -> Callable[[], float]:
    return lambda: t


def replay(
    rec: Mapping[str, Any],
    fd: int,
    make: Callable[[dict, Callable[[], float]], Any],
    feed: Feed,
) -> dict[str, Any]:
    """Read bytes [0, rec.end) again segment by segment: ``make(params, clock)`` builds the
    segment's parser (it is handed the previous segment's state, as a reader resuming with
    other flags was), ``feed(parser, lines)`` consumes lines. Returns the last state."""
    state: dict[str, Any] = {}
    start = 0
    for end, idx, _first, last in rec["segs"]:
        parser = make(rec["params"][idx], _fixed(float(last)))
        parser.set_state(state)
        if end > start:
            for lines in iter_lines(fd, start, end):
                feed(parser, lines)
        state = parser.get_state()
        start = end
    return state
