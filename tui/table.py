"""The DataTable every panel uses: ``enter`` left to the screen (IP detail), and a bulk
``remove_rows`` so that a filter dropping thousands of rows costs one pass, not one per row.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowKey

# Above this many rows at once, rebuild the row index once instead of per row.
BULK_REMOVE = 32


class OpsTable(DataTable, inherit_bindings=False):
    BINDINGS = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_top", "Top", show=False),
        Binding("end", "scroll_bottom", "Bottom", show=False),
    ]

    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    def move_to_key(self, key: str) -> None:
        """Put the cursor back on ``key``'s row wherever sorting or removals moved it."""
        try:
            index = self.get_row_index(key)
        except Exception:
            return
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    def remove_rows(self, keys: Iterable[str]) -> None:
        drop = [RowKey(k) for k in keys]
        if len(drop) <= BULK_REMOVE:
            for k in drop:
                self.remove_row(k)
            return
        # Same steps as DataTable.remove_row, with the index rebuilt once for all rows.
        gone = set(drop)
        kept = sorted((self._row_locations.get(k), k) for k in self._row_locations if k not in gone)
        self._require_update_dimensions = True
        self.check_idle()
        self._row_locations = TwoWayDict({k: i for i, (_, k) in enumerate(kept)})
        for k in gone:
            for column_key in self._data.get(k, {}):
                self._updated_cells.discard(CellKey(k, column_key))
            self.rows.pop(k, None)
            self._data.pop(k, None)
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)
