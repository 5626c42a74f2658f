"""``opsconsole --no-ui``: the engine with no Textual import, for systemd or cron.

One log line per tick that did something and one per action, plain or JSON lines.
SIGINT/SIGTERM finish the current batch, release the lease and exit 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from typing import Any

import typer

from opsconsole.errors import ExitCode


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "data", None)
        if extra:
            out.update(extra)
        return json.dumps(out, default=str)


def setup_logging(fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)


_EARLY_STOP: list[int] = []  # signals received before the event loop's handlers exist


def run_headless(ctx: typer.Context, *, once: bool, demo: bool, log_format: str) -> int:
    # Until the engine's loop installs its handlers, remember SIGTERM/SIGINT instead of
    # dying: a stop during start-up is a clean stop too (exit 0, nothing half-written).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: _EARLY_STOP.append(signum))
    from opsconsole.cli._common import run_async, settings_from

    setup_logging(log_format)
    settings = settings_from(ctx)
    feed = None
    if demo:
        from opsconsole.demo import prepare_demo

        settings, feed = prepare_demo(settings, explicit_db=ctx.find_root().obj.db)
    return int(run_async(_run, settings, feed, once))


async def _run(settings, feed, once: bool) -> int:  # type: ignore[no-untyped-def]
    from opsconsole.core.engine.loop import TickSummary
    from opsconsole.core.engine.setup import apply_config
    from opsconsole.core.redact import redact_url
    from opsconsole.storage.store import open_store
    from opsconsole.wiring import engine_config, make_runtime

    log = logging.getLogger("opsconsole.engine")
    store = await open_store(settings.db)
    try:
        await apply_config(store, engine_config(settings), time.time())
    except BaseException:
        await store.close()
        raise

    def on_tick(s: TickSummary) -> None:
        if s.checked or s.events or s.commands or s.malformed:
            data = {
                "role": s.role,
                "lines": s.lines,
                "events": s.events,
                "malformed": s.malformed,
                "commands": s.commands,
                "checked": s.checked,
                "actions": len(s.actions),
                "alerts_opened": s.alerts_opened,
                "alerts_resolved": s.alerts_resolved,
            }
            text = " ".join(f"{k}={v}" for k, v in data.items())
            log.info("tick %s", text, extra={"data": {"event": "tick", **data}})

    def on_action(a: dict[str, Any]) -> None:
        log.info(
            "action %s ip=%s pool=%s: %s", a["action"], a.get("ip"), a.get("pool") or "-",
            a.get("reason", ""), extra={"data": {"event": "action", **a}},
        )  # fmt: skip

    runtime = make_runtime(settings, store, feed=feed, on_tick=on_tick, on_action=on_action)
    log.info(
        "engine starting on %s, check every %gs, %d source(s)",
        redact_url(settings.db), settings.monitor.check_interval, len(settings.sources),
    )  # fmt: skip
    try:
        if once:
            s = await runtime.tick(force_check=True)
            await runtime.drain_journal()
            await runtime.drain_outbox()
            await runtime.close()
            if s.role != "leader":
                log.warning("another engine holds the lease; nothing done")
            print(json.dumps({"role": s.role, "lines": s.lines, "events": s.events,
                              "actions": s.actions, "alerts_opened": s.alerts_opened,
                              "alerts_resolved": s.alerts_resolved}, default=str))  # fmt: skip
            return int(ExitCode.OK)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if _EARLY_STOP:
            stop.set()
        await runtime.run(stop)
        log.info("engine stopped")
        return int(ExitCode.OK)
    finally:
        await store.close()
