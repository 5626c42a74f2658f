"""One apt-get at a time on this machine, whichever test process asks.

Tests that install a Debian package they need (Postfix for the e2e testbed and the postconf
stand-ins, Prometheus for promtool) may run in several pytest-xdist workers at once. apt's own
lock makes a second apt-get fail after a timeout, and a package's binaries are on disk before
its post-install script has run, so "is it installed?" is answered under this lock too.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = Path("/var/tmp/opsconsole-tests-apt.lock")
LOCK_TIMEOUT = 900.0


@contextlib.contextmanager
def held_flock(path: Path, timeout: float, poll: float = 0.2) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (created if missing), polling so that a stuck
    holder ends in TimeoutError after ``timeout`` seconds instead of a silent hang."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{path} held by another process for {timeout:.0f}s"
                    ) from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def apt_lock(timeout: float = LOCK_TIMEOUT) -> contextlib.AbstractContextManager[None]:
    """Hold the machine-wide install lock."""
    return held_flock(LOCK_FILE, timeout)
