"""Bare ``opsconsole``: settings, database and engine, then the Textual console.

The only module outside ``opsconsole.tui`` that imports Textual (lazily, from run_tui), so
every other command starts without it.
"""

from __future__ import annotations

import time
from typing import Any

import typer

from opsconsole.errors import ExitCode


def run_tui(ctx: typer.Context, *, demo: bool = False, read_only: bool = False) -> int:
    from opsconsole.cli._common import run_async, settings_from

    settings = settings_from(ctx)
    feed = None
    if demo:
        from opsconsole.demo import prepare_demo

        settings, feed = prepare_demo(settings, explicit_db=ctx.find_root().obj.db)
    return int(run_async(_run, settings, feed, read_only))


async def _run(settings: Any, feed: Any, read_only: bool) -> int:
    from opsconsole.core.engine.setup import apply_config
    from opsconsole.storage.store import open_store
    from opsconsole.tui.app import OpsApp
    from opsconsole.wiring import engine_config, make_runtime

    store = await open_store(settings.db)  # DatabaseError -> exit 3 before the screen
    try:
        await apply_config(store, engine_config(settings), time.time())
        # --read-only is a viewer: no in-process engine, so opening it never acts on traffic
        # (a running daemon keeps deciding; the console shows what it writes).
        viewer = read_only and feed is None
        runtime = None if viewer else make_runtime(settings, store, feed=feed)
        app = OpsApp(settings, store, runtime=runtime, read_only=read_only, watch_terminal=True)
        code = await app.run_async()
        await app.shutdown()  # no-op after q; after a crash or a lost terminal, stop the engine
    finally:
        await store.close()
    if app.return_code:
        return int(app.return_code)
    return int(ExitCode.OK) if code is None else int(code)
