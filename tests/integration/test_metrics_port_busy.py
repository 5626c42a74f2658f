"""Issue 18.8: a second process with the same config (the console next to the daemon) used
to die at once on "address already in use" for the metrics listener. Now a busy port is
one warning line and the process runs on (as a follower it still renders everything)."""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Harness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.sqlite_only
def test_a_busy_metrics_port_is_a_warning_not_a_crash(harness: Harness) -> None:
    h = harness
    port = free_port()
    h.write_config(f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    a = h.start_engine(name="a")
    h.wait_for_leader(a)
    b = h.start_engine(name="b")
    h.wait_until(lambda: b.roles() == ["follower"], 15, "engine b to run as a follower")
    time.sleep(1.5)
    assert b.alive(), b.describe()
    assert b.says("not started"), b.describe()  # one warning, naming the listener
    assert b.stop() == 0 and a.stop() == 0
