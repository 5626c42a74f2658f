"""cli.app's exit without interpreter teardown keeps what an exit must do: atexit handlers
run, buffered output is written, the exit code is the command's, and a non-daemon thread
still running is waited for (the normal exit then)."""

from __future__ import annotations

import subprocess
import sys

PRELUDE = (
    "import atexit, sys, threading, time\n"
    "atexit.register(lambda: print('atexit ran'))\n"
    "print('buffered', end=' ')\n"  # no newline: still in the buffer at exit
)


def run(argv: list[str], extra: str = "") -> subprocess.CompletedProcess[str]:
    code = (
        PRELUDE + extra + f"sys.argv = ['opsconsole', *{argv!r}]\n"
        "from opsconsole.cli.app import main\nmain()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_exit_runs_atexit_and_flushes_with_the_commands_code() -> None:
    ok = run(["--version"])
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("buffered opsconsole ") and ok.stdout.endswith("atexit ran\n")
    bad = run(["no-such-command"])
    assert bad.returncode == 2 and bad.stdout == "buffered atexit ran\n"
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_a_running_thread_is_waited_for() -> None:
    thread = (
        "def late():\n    time.sleep(0.3)\n    print('thread done', flush=True)\n"
        "threading.Thread(target=late).start()\n"
    )
    r = run(["--version"], thread)
    assert r.returncode == 0, r.stderr
    assert "thread done" in r.stdout and r.stdout.endswith("atexit ran\n")


def test_a_broken_pipe_is_not_reported_as_a_runtime_failure() -> None:
    """`report | head`: the reader left mid-output. run_async lets it through to the CLI's
    own handling instead of printing "opsconsole: BrokenPipeError ..." as a failure."""
    import pytest

    from opsconsole.cli._common import run_async

    async def boom() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        run_async(boom)
