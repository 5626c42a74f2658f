"""The one output layer of every list and show command (kubectl's rules).

- ``--format json``: the command's data as JSON; ``csv``: every column, header first.
- ``--format table`` with stdout NOT a terminal (a pipe, a file, ``| grep``): plain aligned
  columns, a header row and two-space gaps, never a cut value, no box, no colour.
- ``--format table`` on a terminal: a Rich table at the terminal's width. When it does not
  fit, the least important columns go first (each :class:`Column` says whether and in
  which order it may be dropped); ids, IPs, states and times are never dropped nor cut.
  ``--wide`` keeps every column.

Times are ISO 8601 UTC with ``Z`` (``core.views.iso``); every text is sanitized here, so a
log's escape sequences never reach the operator's terminal.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opsconsole.core.sanitize import shown

FORMATS = ("table", "json", "csv")
GAP = "  "


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a list. ``drop``: 0 never dropped (ids, IPs, states, times, counts);
    higher numbers are dropped first when a terminal is too narrow."""

    name: str
    drop: int = 0
    right: bool = False  # numbers
    fold: bool = False  # never dropped, but may wrap on a narrow terminal (names)


def clean(value: Any) -> str:
    """One cell as display text: None -> ''; escape sequences, NULs, newlines and bidi
    controls made visible (core/sanitize) so a log value cannot drive the terminal or break
    a row."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return shown(text.replace("\t", " "))


def is_terminal(stream: Any = None) -> bool:
    s = stream if stream is not None else sys.stdout
    try:
        return bool(s.isatty())
    except (AttributeError, ValueError):
        return False


def plain(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> str:
    """kubectl's plain table: upper-case header, columns padded to their widest value."""
    header = [c.name.upper() for c in columns]
    body = [[clean(v) for v in r] for r in rows]
    widths = [max([len(header[i])] + [len(r[i]) for r in body]) for i in range(len(columns))]
    lines = []
    for r in [header, *body]:
        cells = [
            (r[i].rjust(widths[i]) if columns[i].right else r[i].ljust(widths[i]))
            for i in range(len(columns))
        ]
        lines.append(GAP.join(cells).rstrip())
    return "\n".join(lines) + "\n"


def to_csv(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.name for c in columns])
    for r in rows:
        w.writerow([clean(v) for v in r])
    return buf.getvalue()


def fit(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indexes of the columns kept at ``width``: drop the highest ``drop`` first until the
    natural widths (plus gaps) fit; never a column with ``drop == 0``."""
    natural = [max([len(c.name)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    keep = list(range(len(columns)))
    order = sorted(
        (i for i, c in enumerate(columns) if c.drop > 0), key=lambda i: (-columns[i].drop, -i)
    )

    def total() -> int:
        return sum(natural[i] for i in keep) + len(GAP) * (len(keep) - 1)

    for i in order:
        if total() <= width:
            break
        keep.remove(i)
    return keep


def rich_table(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int, wide: bool
) -> Any:
    """A Rich table for a terminal of ``width``; kept columns with ``drop == 0`` never wrap."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    body = [[clean(v) for v in r] for r in rows]
    keep = list(range(len(columns))) if wide else fit(columns, body, width)
    table = Table(
        title=title or None, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
        collapse_padding=True, expand=False,
    )  # fmt: skip
    for i in keep:
        c = columns[i]
        table.add_column(
            c.name, no_wrap=(c.drop == 0 and not c.fold) or wide, overflow="fold",
            justify="right" if c.right else "left",
        )  # fmt: skip
    for r in body:
        table.add_row(*(Text(r[i]) for i in keep))
    dropped = [columns[i].name for i in range(len(columns)) if i not in keep]
    return table, dropped


def emit(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    fmt: str = "table",
    data: Any = None,
    wide: bool = False,
    titled: bool = False,
) -> None:
    """Print one list in ``fmt``. ``data`` is the JSON form (default: rows as objects);
    ``titled`` prints the title line in plain mode too (commands with several tables)."""
    out = sys.stdout
    if fmt == "json":
        if data is None:
            data = [dict(zip([c.name for c in columns], r, strict=True)) for r in rows]
        out.write(json.dumps(data, indent=2, default=str, allow_nan=False) + "\n")
        return
    if fmt == "csv":
        out.write(to_csv(columns, rows))
        return
    if not is_terminal(out):
        if titled and title:
            out.write(f"{title}\n")
        if rows or not titled:
            out.write(plain(columns, rows))
        if titled:
            if not rows:
                out.write("(none)\n")
            out.write("\n")
        out.flush()
        return
    from rich.console import Console

    console = Console(highlight=False)
    table, dropped = rich_table(title, columns, rows, console.width, wide)
    console.print(table)
    if not rows:
        console.print("(none)")
    elif dropped:
        console.print(f"[dim]({', '.join(dropped)} hidden at this width: --wide shows all)[/]")
