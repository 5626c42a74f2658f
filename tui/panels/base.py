"""A live table panel: turns a Snapshot into rows and applies only what changed.

Each row has a key (stable across refreshes) and a tuple of cell specs ``(text, style,
sort_value)``. A refresh compares specs with what the table shows and, inside one
``batch_update``, removes gone rows, adds new ones and ``update_cell``s only the changed
cells with ``update_width=False``; the table is never cleared, so the cursor (kept on its
row key), sort and scroll survive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from opsconsole.core.views import Snapshot
from opsconsole.tui.cells import Cell
from opsconsole.tui.table import OpsTable

Spec = tuple[str, str, Any]  # text, style, sort value


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None  # fixed width; None = fit the first rows' content
    justify: str = "left"
    numeric: bool = False
    letter: str | None = None  # sort key (shift+letter); None: picked from the label; "": none


def sort_letters(columns: tuple[Column, ...]) -> dict[str, str]:
    """letter -> column key: the explicit letters, then each labelled column's first free
    letter of its label (k9s: shift+letter sorts by that column)."""
    out: dict[str, str] = {c.letter.lower(): c.key for c in columns if c.letter}
    for c in columns:
        if c.letter is not None:
            continue
        free = [ch for ch in c.label.lower() if ch.isalpha() and ch not in out]
        if free:
            out[free[0]] = c.key
    return out


@dataclass
class _Row:
    fingerprint: Any
    specs: tuple[Spec, ...]
    text: str
    item: dict[str, Any]


@dataclass
class ApplyStats:
    added: int = 0
    removed: int = 0
    cells: int = 0


class Panel(Vertical):
    """Subclasses set COLUMNS and implement ``items``, ``specs`` (and ``fingerprint``)."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    DEFAULT_SORT: ClassVar[tuple[str, bool] | None] = None  # (column key, reverse)
    TITLE: ClassVar[str] = ""
    EMPTY: ClassVar[str] = "nothing yet"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: dict[str, _Row] = {}
        self._shown: dict[str, tuple[Spec, ...]] = {}
        self.sort_column: str | None
        self.sort_column, self.sort_reverse = self.DEFAULT_SORT or (None, False)
        self.last_apply = ApplyStats()
        self.total = 0

    def compose(self) -> ComposeResult:
        yield OpsTable(cursor_type="row", zebra_stripes=True, id=f"{self.id}-table")

    @property
    def table(self) -> OpsTable:
        return self.query_one(OpsTable)

    def on_mount(self) -> None:
        self.letters = sort_letters(self.COLUMNS)
        for c in self.COLUMNS:
            self.table.add_column(self._label(c), key=c.key, width=c.width)

    def _label(self, c: Column) -> Text:
        """The header: the sort letter underlined, and ▲/▼ on the sorted column."""
        letter = next((k for k, v in self.letters.items() if v == c.key), None)
        t = Text(c.label)
        at = c.label.lower().find(letter) if letter else -1
        if at >= 0:
            t.stylize("underline", at, at + 1)
        if c.key == self.sort_column:
            t.append("▼" if self.sort_reverse else "▲")
        return t

    def on_data_table_header_selected(self, event: Any) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))
        self.app.screen.refresh_bindings()

    # -- what subclasses provide ---------------------------------------------------------

    def items(self, snap: Snapshot) -> Iterable[tuple[str, dict[str, Any]]]:
        raise NotImplementedError

    def specs(self, key: str, item: dict[str, Any], snap: Snapshot) -> tuple[Spec, ...]:
        raise NotImplementedError

    def fingerprint(self, key: str, item: dict[str, Any], snap: Snapshot) -> Any:
        """Cheap value that changes whenever ``specs`` would; equal = row untouched."""
        return tuple(item.values())

    # -- selection -----------------------------------------------------------------------

    def selected(self) -> dict[str, Any] | None:
        key = self.table.cursor_key()
        row = self._rows.get(key) if key is not None else None
        return row.item if row else None

    def selected_ip(self) -> str | None:
        item = self.selected()
        return item.get("ip") if item else None

    # -- refresh -------------------------------------------------------------------------

    def apply(self, snap: Snapshot, pattern: re.Pattern[str] | None) -> ApplyStats:
        desired: dict[str, _Row] = {}
        fresh: dict[str, _Row] = {}
        for key, item in self.items(snap):
            fp = self.fingerprint(key, item, snap)
            row = self._rows.get(key)
            if row is None or row.fingerprint != fp:
                specs = self.specs(key, item, snap)
                row = _Row(fp, specs, " ".join(s[0] for s in specs), item)
            else:
                row.item = item
            fresh[key] = row
            if pattern is None or pattern.search(row.text):
                desired[key] = row
        self._rows = fresh
        self.total = len(fresh)
        stats = self._sync(desired)
        self.last_apply = stats
        return stats

    def _sync(self, desired: dict[str, _Row]) -> ApplyStats:
        table = self.table
        stats = ApplyStats()
        cursor = table.cursor_key()
        gone = [k for k in self._shown if k not in desired]
        resort = False
        with self.app.batch_update():
            if gone:
                table.remove_rows(gone)
                for k in gone:
                    del self._shown[k]
                stats.removed = len(gone)
            for key, row in desired.items():
                old = self._shown.get(key)
                if old is None:
                    table.add_row(
                        *(self._cell(s, c) for s, c in zip(row.specs, self.COLUMNS, strict=True)),
                        key=key,
                    )
                    stats.added += 1
                elif old is not row.specs and old != row.specs:
                    for col, o, n in zip(self.COLUMNS, old, row.specs, strict=True):
                        if o != n:
                            table.update_cell(key, col.key, self._cell(n, col), update_width=False)
                            stats.cells += 1
                            resort = resort or col.key == self.sort_column
                self._shown[key] = row.specs
            if self.sort_column and (stats.added or resort):
                self._sort()
            if cursor is not None and cursor in self._shown:
                table.move_to_key(cursor)
        return stats

    @staticmethod
    def _cell(spec: Spec, column: Column) -> Cell:
        text, style, sort_value = spec
        return Cell(text, style, sort_value, column.justify if column.justify != "left" else None)

    def _sort(self) -> None:
        if self.sort_column is None:
            return
        self.table.sort(self.sort_column, key=lambda c: c.sort_value, reverse=self.sort_reverse)

    def sort_by(self, column: str | None, reverse_only: bool = False) -> str:
        """Sort by ``column`` (numbers high first, text A-Z); the same column again, or
        ``reverse_only``, flips the direction."""
        if reverse_only or column is None or column == self.sort_column:
            if self.sort_column is None:
                return "nothing: no column sorted"
            self.sort_reverse = not self.sort_reverse
        else:
            new = next(c for c in self.COLUMNS if c.key == column)
            self.sort_column, self.sort_reverse = new.key, new.numeric
        table = self.table
        cursor = table.cursor_key()
        for c in self.COLUMNS:
            table.columns[c.key].label = self._label(c)  # type: ignore[index]
        table.refresh()
        self._sort()
        if cursor:
            table.move_to_key(cursor)
        label = next(c.label for c in self.COLUMNS if c.key == self.sort_column)
        return f"{label} {'high first' if self.sort_reverse else 'low first'}"
