"""Issue 18.3: hooks are journaled, run off the loop, survive kill -9, and time out for real.

The real engine in a subprocess (``harness``), a real hook script, one SQLite file.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.integration.conftest import Harness

BAD = "10.9.0.20"
SLOW = """\
import sys, time
out = sys.argv[1]
open(out, "a").write("start\\n")
time.sleep(float(sys.argv[2]))
open(out, "a").write("end\\n")
"""
HUNG = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(20)
"""


def config(script: Path, *args: str, timeout: str) -> str:
    run = [sys.executable, str(script), *args]
    return (
        f'[[pools]]\nname = "prod"\nmembers = [ {{ ip = "{BAD}", weight = 100 }},'
        ' { ip = "10.9.0.1", weight = 100 } ]\n\n'
        f'[[actions]]\non = ["remove"]\nrun = {json.dumps(run)}\ntimeout = "{timeout}"\n'
    )


def journal(h: Harness) -> list[tuple[str, str, int]]:
    return [tuple(r) for r in h.sql("SELECT kind, state, attempts FROM journal ORDER BY id")]


def test_a_hook_cut_off_by_kill_9_runs_once_after_the_restart(harness: Harness) -> None:
    h = harness
    script = h.root / "slow.py"
    script.write_text(SLOW)
    out = h.root / "calls.txt"
    h.write_config(config(script, str(out), "3", timeout="30s"), monitor='lease_ttl = "3s"')
    h.write_traffic(h.traffic(BAD, 300, 60) + h.traffic("10.9.0.1", 300, 0))

    ep = h.start_engine()
    h.wait_until(lambda: out.exists() and out.read_text() == "start\n", 15, "the hook to start")
    assert journal(h) == [("hook", "running", 1)]
    ep.stop(signal.SIGKILL)

    ep2 = h.start_engine()
    try:
        h.wait_until(lambda: journal(h) == [("hook", "done", 2)], 20, "the hook rerun")
    except AssertionError:
        raise AssertionError(ep2.describe() + repr(journal(h))) from None
    h.wait_checks(ep2, 3)
    # Once after the restart, not again. (The cut-off run, in its own process group, may
    # itself finish after the kill: its "end" is not the journal's.)
    assert out.read_text().count("start") == 2
    assert journal(h) == [("hook", "done", 2)]
    hooks = [e for e in h.audit() if e["action"] == "hook:remove"]
    assert len(hooks) == 1 and hooks[0]["reason"] == "ok"


def test_a_hung_hook_is_killed_with_its_children_and_the_loop_keeps_ticking(
    harness: Harness,
) -> None:
    h = harness
    script = h.root / "hung.py"
    script.write_text(HUNG)
    pidfile = h.root / "child.pid"
    h.write_config(config(script, str(pidfile), timeout="2s"))
    h.write_traffic(h.traffic(BAD, 300, 60) + h.traffic("10.9.0.1", 300, 0))

    ep = h.start_engine()
    h.wait_until(lambda: pidfile.exists() and pidfile.read_text(), 15, "the hook to start")
    child = int(pidfile.read_text())
    ticks_before = len(ep.ticks())
    beat_before = h.sql("SELECT heartbeat_at FROM lease")[0][0]
    time.sleep(8)
    # Ticks every second (poll 1s) while the hook hangs; the lease is renewed throughout.
    assert len(ep.ticks()) - ticks_before >= 5
    assert h.sql("SELECT heartbeat_at FROM lease")[0][0] > beat_before + 5
    # The timeout killed the process group: the hook's own child is gone too.
    try:
        os.kill(child, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    hooks = [e for e in h.audit() if e["action"] == "hook:remove"]
    assert hooks and hooks[-1]["reason"] == "timed out after 2s"
    (row,) = h.sql("SELECT state, attempts FROM journal")
    assert row[0] in ("pending", "running") and row[1] >= 1  # retried with backoff
    ep.stop()
