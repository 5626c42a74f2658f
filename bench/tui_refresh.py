"""Job: a TUI refresh of the IPs panel holding 5,000 rows in which 50 rows changed,
against a refresh in which one cell changed. Target: <= 1.5x (one batched redraw, no
per-cell cost).

The panel is the console's own (``tui.panels.ips.IpsPanel``) and a refresh is its own
update function, ``Panel.apply(snapshot, filter)``, as ``MainScreen.show`` calls it, in a
headless Textual app (160x50). The snapshot is ``core.views.snapshot`` over
``tui.sample_data.seed(extra_ips=4989)``: 5,000 IPs (5,004 rows with the subusers). A
"50 changed" refresh gives 50 IPs one more delivered message (sent, bounce %, sort order
change); the baseline adds one deferral to one IP (one cell), after an untimed refresh
with unchanged data has settled the 50 trend arrows. Measured: process CPU time
from the call until the app is idle again after its redraw (Textual draws on its update
timer, so the clock runs through a 50 ms pause; idle time costs no CPU).

    python -m bench.tui_refresh [--smoke] [--repeat N]
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import gc
import sys
import time
from typing import Any

from bench.common import OUT, Row, db_url, finish, fmt_ms, median, parser, remove_db

TARGET = 1.5
SETTLE = 0.05  # seconds for the update timer to fire and the compositor to draw


async def snapshot(extra_ips: int) -> Any:
    from opsconsole.core.views import snapshot as fetch
    from opsconsole.settings import load_settings
    from opsconsole.storage.db import open_database
    from opsconsole.storage.store import SqlStore
    from opsconsole.wiring import engine_config
    from tests.helpers import tui_seed as sample_data

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / "tui.db"
    remove_db(db)
    settings = load_settings(None, db=db_url(db))
    engine = await open_database(settings.db)
    try:
        await sample_data.seed(engine, sample_data.FIXED_NOW, extra_ips=extra_ips)
        return await fetch(SqlStore(engine), engine_config(settings), sample_data.FIXED_NOW)
    finally:
        await engine.dispose()
        remove_db(db)


def changed(snap: Any, rows: list[int], field: str, delta: int) -> Any:
    """A copy of ``snap`` where the IP rows at ``rows`` have ``field`` (and sent) moved by
    ``delta``, with the rates recomputed as the report would."""
    from opsconsole.core.stats import WindowStats
    from opsconsole.core.views import ip_row

    new = copy.copy(snap)
    new.report = dict(snap.report)
    ips = list(snap.report["ips"])
    t = _thresholds(snap)
    for i in rows:
        it = ips[i]
        s = WindowStats(
            delivered=it["delivered"],
            bounced=it["bounced"],
            hard_bounced=it["hard_bounced"],
            soft_bounced=it["soft_bounced"],
            deferred=it["deferred"],
            complaints=it["complaints"],
        )
        s = dataclasses.replace(s, **{field: getattr(s, field) + delta})
        ips[i] = ip_row(it["ip"], s, t, it["pool"], it["status"])
    new.report["ips"] = ips
    return new


def _thresholds(snap: Any) -> Any:
    from opsconsole.core.stats import Thresholds

    return Thresholds(**snap.report["thresholds"])


async def run(extra_ips: int, n_changed: int, repeat: int) -> tuple[list[float], ...]:
    from textual.app import App, ComposeResult

    from opsconsole.tui.panels.ips import IpsPanel

    snap0 = await snapshot(extra_ips)
    n_rows = len(snap0.report["ips"])
    step = max(1, n_rows // n_changed)
    many = [i * step for i in range(n_changed)]
    one = [n_rows // 2]

    class Bench(App[None]):
        def compose(self) -> ComposeResult:
            yield IpsPanel(id="ips")

    cpu_many: list[float] = []
    cpu_one: list[float] = []
    call_many: list[float] = []
    call_one: list[float] = []
    app = Bench()
    async with app.run_test(size=(160, 50)) as pilot:
        panel = app.query_one(IpsPanel)
        panel.apply(snap0, None)
        await pilot.pause(0.3)

        async def refresh(snap: Any, cpu: list[float], call: list[float], cells: int) -> None:
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            stats = panel.apply(snap, None)
            w1 = time.perf_counter()
            await pilot.pause(SETTLE)
            cpu.append(time.process_time() - c0)
            call.append(w1 - w0)
            assert stats.cells >= cells and not stats.added, stats
            assert cells > 1 or stats.cells == 1, stats

        cur = snap0
        for _ in range(repeat):  # each refresh builds on the previous one: a real change
            cur = changed(cur, many, "delivered", 1)
            await refresh(cur, cpu_many, call_many, n_changed)
            # Next refresh, same data: the 50 trend arrows settle (not timed), so that the
            # baseline below changes exactly one cell.
            panel.apply(copy.copy(cur), None)
            await pilot.pause(SETTLE)
            cur = changed(cur, one, "deferred", 1)
            await refresh(cur, cpu_one, call_one, 1)
    return cpu_many, cpu_one, call_many, call_one, [float(n_rows)]


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "", repeat=5).parse_args(argv)
    extra, n_changed = (189, 50) if args.smoke else (4989, 50)
    repeat = 1 if args.smoke else args.repeat
    cpu_many, cpu_one, call_many, call_one, (n_rows,) = asyncio.run(run(extra, n_changed, repeat))
    t, b = median(cpu_many), median(cpu_one)
    ratio = t / b
    row = Row(
        job=f"TUI refresh, IPs panel {int(n_rows):,} rows, {n_changed} changed",
        value=f"{fmt_ms(t)} CPU",
        baseline=f"{fmt_ms(b)} CPU, one cell changed",
        ratio=f"{ratio:.2f}x",
        target=f"<= {TARGET}x",
        ok=ratio <= TARGET,
        note=f"apply() call {fmt_ms(median(call_many))} vs {fmt_ms(median(call_one))};"
        " CPU includes the redraw",
        raw={"seconds": t, "baseline_seconds": b, "ratio": ratio},
    )
    return finish("tui_refresh", [row], args.smoke)


if __name__ == "__main__":
    sys.exit(main())
