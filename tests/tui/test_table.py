"""OpsTable.remove_rows: the bulk path must leave the table as remove_row one by one would."""

from __future__ import annotations

from textual.app import App, ComposeResult

from opsconsole.tui.table import BULK_REMOVE, OpsTable


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OpsTable(cursor_type="row")


async def test_bulk_remove_matches_row_by_row() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(OpsTable)
        table.add_column("n", key="n")
        for i in range(200):
            table.add_row(str(i), key=f"k{i}")
        await pilot.pause()
        table.move_cursor(row=150)
        gone = [f"k{i}" for i in range(0, 200, 3)]
        assert len(gone) > BULK_REMOVE
        table.remove_rows(gone)
        table.move_to_key("k151")
        await pilot.pause()
        kept = [f"k{i}" for i in range(200) if i % 3]
        assert table.row_count == len(kept)
        assert [r.key.value for r in table.ordered_rows] == kept
        assert [table.get_row_index(k) for k in kept] == list(range(len(kept)))
        assert table.cursor_key() == "k151"
        table.remove_rows(["k1", "k2"])  # the small path
        assert table.row_count == len(kept) - 2
