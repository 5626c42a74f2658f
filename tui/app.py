"""The Textual app: holds the store, the in-process engine runtime, and the
refresh loop (Dolphie's shape: fetch in a worker, redraw on the main thread, then a one-shot
timer for the next fetch, so fetches never overlap or pile up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.timer import Timer

from opsconsole.core import views
from opsconsole.core.views import ConsoleStore, Snapshot
from opsconsole.files import write_private
from opsconsole.settings import Settings
from opsconsole.tui.cells import parse_iso
from opsconsole.tui.dialogs import current_user
from opsconsole.tui.header import Status, StatusBar
from opsconsole.tui.header import db_label as header_db_label
from opsconsole.tui.main import MainScreen
from opsconsole.wiring import engine_config

log = logging.getLogger("opsconsole.tui")


class OpsApp(App[int]):
    TITLE = "opsconsole"
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+p", "command_palette", "Palette", id="palette", show=False, priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        store: ConsoleStore | None = None,
        *,
        open_store: Callable[[], Awaitable[ConsoleStore]] | None = None,
        runtime: Any = None,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
        watch_terminal: bool = False,
        db_label: str | None = None,
    ) -> None:
        """``store``: the database behind the engine's ports and the read model.
        ``runtime``: an EngineRuntime to run in-process (production), None in tests."""
        super().__init__()
        # No animations unless TEXTUAL_ANIMATIONS asks for them: over SSH every frame of a
        # sliding tab underline is a repaint on the wire, and an animation started by a
        # refresh while the app quits (a tab relabelled) was never finished, leaving
        # anything that waits for the animator (Textual's pilot) waiting forever.
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            self.animation_level = "none"
        self.settings = settings
        self.config = engine_config(settings)
        self._store = store
        self._open_store = open_store
        self.runtime = runtime
        self.clock = clock
        self.read_only = read_only
        self.watch_terminal = watch_terminal
        self.frozen = False
        self.snapshot: Snapshot | None = None
        self.refresh_interval = max(0.2, float(settings.tui.refresh))
        self.fetches = 0
        self.fetch_error = ""
        self.runtime_error = ""
        self._db_label = db_label or header_db_label(settings.db)
        self._fetching = False
        self._again = False
        self._timer: Timer | None = None
        self._stop = asyncio.Event()
        self._runtime_done = asyncio.Event()
        self._ppid = os.getppid()

    @property
    def store(self) -> ConsoleStore:
        assert self._store is not None, "the store opens at mount"
        return self._store

    @property
    def main(self) -> MainScreen:
        return self.get_screen("main")  # type: ignore[return-value]

    # -- start and stop ------------------------------------------------------------------

    async def on_mount(self) -> None:
        if self._store is None:
            assert self._open_store is not None, "OpsApp needs a store or open_store"
            self._store = await self._open_store()
        if self.settings.tui.keymap:
            self.set_keymap(dict(self.settings.tui.keymap))
        self.install_screen(MainScreen(), "main")
        await self.push_screen("main")
        if self.runtime is not None:
            self.run_worker(self._run_runtime(), group="engine", exit_on_error=False)
        else:
            self._runtime_done.set()
        self.set_interval(1.0, self.update_status)
        if self.watch_terminal:
            self.set_interval(5.0, self.check_terminal)
            # `kill` (SIGTERM): quit as with q. A dropped SSH session (SIGHUP): the terminal
            # is gone, so stop the engine cleanly and leave without restoring the screen.
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(
                signal.SIGTERM, lambda: self.run_worker(self.action_quit(), group="quit")
            )
            loop.add_signal_handler(
                signal.SIGHUP, lambda: self.run_worker(self.terminal_lost(), group="quit")
            )
        self.update_status()
        self.request_refresh()

    async def _run_runtime(self) -> None:
        try:
            await self.runtime.run(self._stop)
        except Exception as e:  # the console stays up to show what the database holds
            log.exception("engine failed")
            self.runtime_error = f"engine failed: {type(e).__name__}: {e}"
            self.notify(self.runtime_error, severity="error", timeout=30)
        finally:
            self._runtime_done.set()

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit(0)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the engine cleanly (it finishes its batch and releases the lease)."""
        self._stop.set()
        if self._timer is not None:
            self._timer.stop()
        try:
            await asyncio.wait_for(self._runtime_done.wait(), timeout)
        except TimeoutError:
            log.warning("engine did not stop within %ss", timeout)

    async def on_unmount(self) -> None:
        self._stop.set()
        # A refresh cut off mid-read closes its cursor before the store goes away: nothing
        # of ours is left holding a connection once the app is gone.
        refreshing = self.workers.cancel_group(self, "refresh")
        if refreshing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.workers.wait_for_complete(refreshing), 5.0)
        if self._open_store is not None and self._store is not None:
            await self._store.close()

    async def terminal_lost(self) -> None:
        """The engine finishes its batch and releases the lease; then the process ends at
        once: Textual's own shutdown would block writing to a terminal that is gone."""
        await self.shutdown()
        os._exit(0)

    def check_terminal(self) -> None:
        """Exit when the terminal went away (a dropped SSH session), as Dolphie does."""
        try:
            gone = not sys.stdin.isatty()
        except (ValueError, OSError):
            gone = True
        if self._ppid != 1 and os.getppid() != self._ppid:
            gone = True  # re-parented: whatever started us has died
        if gone:
            self.run_worker(self.terminal_lost(), group="quit")

    # -- refresh loop --------------------------------------------------------------------

    def request_refresh(self) -> None:
        """Fetch now; if a fetch is running, fetch again as soon as it ends (never two)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._fetching:
            self._again = True
            return
        self._fetching = True
        self.run_worker(self._refresh(), group="refresh", exit_on_error=False)

    async def _refresh(self) -> None:
        started = time.monotonic()
        try:
            snap = await views.snapshot(self.store, self.config, self.clock(), self.snapshot)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            msg = f"cannot read the database: {type(e).__name__}: {e}"
            if msg != self.fetch_error:
                self.notify(msg, severity="error", timeout=10)
            self.fetch_error = msg
        else:
            self.fetch_error = ""
            self.fetches += 1
            self.snapshot = snap
            if not self.frozen:
                self.main.show(snap)
        finally:
            self._fetching = False
        self.update_status()
        if self._stop.is_set():
            return
        if self._again:
            self._again = False
            self.request_refresh()
        elif not self.frozen:
            delay = max(0.05, self.refresh_interval - (time.monotonic() - started))
            self._timer = self.set_timer(delay, self.request_refresh)

    def set_frozen(self, frozen: bool) -> None:
        self.frozen = frozen
        if frozen:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
        else:
            self.request_refresh()
        self.update_status()

    # -- header --------------------------------------------------------------------------

    def status(self) -> Status:
        eng = self.snapshot.report["engine"] if self.snapshot else {}
        hosts = self.snapshot.report.get("hosts", []) if self.snapshot else []
        rt = self.runtime
        if self.runtime_error:
            role = "failed"
        elif rt is not None:
            role = rt.role
        else:
            role = "follower" if eng.get("running") else "no engine"
        last = parse_iso(eng.get("last_check_at"))
        eps = eng.get("events_per_s")
        if rt is not None and rt.role == "leader":
            last = rt.last_check_at if rt.last_check_at is not None else last
            eps = rt.events_per_s
        return Status(
            host=self.settings.host,
            database=self._db_label,
            role=role,
            last_check_age=None if last is None else self.clock() - last,
            events_per_s=eps,
            frozen=self.frozen,
            read_only=self.read_only,
            hosts=len(hosts),
            hosts_fresh=sum(1 for h in hosts if h.get("fresh")),
            error="DB ERROR" if self.fetch_error else "",
            window=self.snapshot.report["window_seconds"] if self.snapshot else None,
        )

    def update_status(self) -> None:
        try:
            bar = self.main.query_one(StatusBar)
        except Exception:
            return
        bar.show(self.status())

    # -- commands and export -------------------------------------------------------------

    def run_command(self, verb: str, args: dict[str, Any], actor: str | None = None) -> None:
        if self.read_only:
            self.notify("read-only: no changes from this console", severity="warning")
            return
        self.run_worker(self._execute(verb, args, actor or current_user()), group="command")

    async def _execute(self, verb: str, args: dict[str, Any], actor: str) -> None:
        from opsconsole.core.engine import control
        from opsconsole.errors import UsageError

        try:
            result = await control.execute(
                self.store, self.config, actor, verb, args, clock=self.clock
            )
        except UsageError as e:
            self.notify(str(e), severity="error")
            return
        except Exception as e:
            self.notify(f"{verb} failed: {type(e).__name__}: {e}", severity="error", timeout=10)
            return
        self.notify(result.message, severity="information" if result.ok else "error")
        self.request_refresh()

    def export(self, fmt: str, path: str) -> None:
        self.run_worker(self._export(fmt, path), group="export")

    async def _export(self, fmt: str, path: str) -> None:
        from opsconsole.render import render

        try:
            report = (
                self.snapshot.report
                if self.frozen and self.snapshot
                else await views.build_report(self.store, self.config, now=self.clock())
            )
            write_private(path, render(report, fmt))
        except OSError as e:
            self.notify(f"cannot write {path}: {e.strerror or e}", severity="error", timeout=10)
            return
        self.notify(f"{fmt} report written to {os.path.abspath(path)}", title="Exported", timeout=8)
