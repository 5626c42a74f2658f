"""The report's JSON and CSV written as they are read (issue 18.9): every IP row, in
chunks, never the whole document in memory. The bytes are ``render.to_json`` /
``render.to_csv``'s for the same report."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO, Any

FLUSH = 256 * 1024  # characters buffered between writes


async def write_json(
    out: IO[str], head: dict[str, Any], streamed: dict[str, AsyncIterator[dict[str, Any]]]
) -> int:
    """``head`` (the report with the ``streamed`` sections empty) with each of those
    top-level lists written from its rows in its place; the number of rows written."""
    marks = {key: f"\x00opsconsole-{key}\x00" for key in streamed}
    doc = json.dumps(head | marks, indent=2) + "\n"
    spots = []
    for key, mark in marks.items():
        spot = "\n  " + json.dumps(key) + ": " + json.dumps(mark)
        at = doc.index(spot) + len(spot) - len(json.dumps(mark))
        spots.append((at, at + len(json.dumps(mark)), key))
    spots.sort()
    pos = total = 0
    for at, after, key in spots:
        out.write(doc[pos:at])
        total += await _write_list(out, streamed[key])
        pos = after
    out.write(doc[pos:])
    return total


async def _write_list(out: IO[str], rows: AsyncIterator[dict[str, Any]]) -> int:
    """A top-level list's items as ``json.dumps(report, indent=2)`` lays them out."""
    n = 0
    buf: list[str] = []
    size = 0
    async for row in rows:
        text = json.dumps(row, indent=2).replace("\n", "\n    ")
        part = ("[\n    " if n == 0 else ",\n    ") + text
        buf.append(part)
        size += len(part)
        n += 1
        if size >= FLUSH:
            out.write("".join(buf))
            buf, size = [], 0
    buf.append("\n  ]" if n else "[]")
    out.write("".join(buf))
    return n


class _Lines:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        return len(s)


async def write_csv(
    out: IO[str],
    columns: Sequence[str],
    rows: AsyncIterator[dict[str, Any]],
    lines_of: Callable[[dict[str, Any]], list[list[str]]],
) -> int:
    """``columns``, then each row's lines (``render.csv_lines`` / ``provider_line``) as
    they are read; the number of rows written."""
    buf = _Lines()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    n = 0
    async for row in rows:
        w.writerows(lines_of(row))
        n += 1
        if len(buf.parts) >= 2000:
            out.write("".join(buf.parts))
            buf.parts.clear()
    out.write("".join(buf.parts))
    return n
