"""cli.app's exit without interpreter teardown keeps what an exit must do: atexit handlers
run, buffered output is written, the exit code is the command's, and a non-daemon thread
still running is waited for (the normal exit then)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_report_into_a_closed_pipe_exits_0_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opsconsole report | head`: the reader is gone before the output is written. typer
    turns the EPIPE into sys.exit(1); the CLI answers 0, and says nothing."""
    from opsconsole.cli.app import run

    class Gone(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    import asyncio

    from opsconsole.storage.db import open_database

    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"

    async def create() -> None:
        await (await open_database(url)).dispose()

    asyncio.run(create())
    assert run(["--db", url, "report", "--format", "json"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", Gone())
    assert run(["--db", url, "report", "--format", "json"]) == 0
    assert capsys.readouterr().err == ""
