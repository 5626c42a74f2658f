"""Issue 3 acceptance: one acting engine per database, and clean stops.

* Two headless engines on one SQLite file: one leads, the other follows; ``kill -9`` the
  leader and the follower takes over within the lease time, then acts (reads, checks,
  deprioritizes) without counting again what the dead leader had already counted.
* SIGTERM: exit 0 within seconds, lease released, and nothing lost: every event written
  before the signal is counted exactly once (after a restart for what was not yet read).
"""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Harness

TTL = 3.0
CONFIG = (
    "[[pools]]\n"
    'name = "prod"\n'
    'members = [ { ip = "10.3.0.1", weight = 100 }, { ip = "10.3.0.2", weight = 100 } ]\n'
)


@pytest.mark.slow
def test_follower_takes_over_within_the_lease_time_after_kill_9(harness: Harness) -> None:
    h = harness
    h.write_config(CONFIG, monitor=f'lease_ttl = "{TTL:g}s"')
    written = h.write_traffic(h.traffic("10.3.0.1", 200, 2))

    a = h.start_engine(name="a")
    h.wait_for_leader(a)
    h.wait_until(lambda: h.totals()["delivered"] == 198, 10, "engine a to read the traffic")

    b = h.start_engine(name="b")
    h.wait_until(lambda: b.roles() == ["follower"], 10, "engine b to start as a follower")
    h.wait_checks(a, 2)  # both engines tick side by side for a while
    assert h.leader_pid() == a.pid
    assert b.roles() == ["follower"] and a.roles() == ["leader"]
    assert b.ticks() == []  # a follower reads nothing and decides nothing
    st = h.status()["engine"]
    assert (st["running"], st["role"]) == (True, "leader")
    assert f":{a.pid}:" in st["holder"]

    # Traffic that arrives while b follows is read by a only.
    written += h.write_traffic(h.traffic("10.3.0.1", 100, 1))
    h.wait_until(lambda: h.totals()["delivered"] == 297, 10, "engine a to read more traffic")
    assert h.leader_pid() == a.pid

    before = h.lease()
    assert before is not None
    a.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    assert a.proc.wait(5) == -signal.SIGKILL

    h.wait_until(lambda: h.leader_pid() == b.pid, TTL + 5, "engine b to take the lease")
    took = time.time() - killed_at
    # The dead leader's lease ran out at most TTL after its last heartbeat (<= kill time);
    # the follower notices at its next tick (1 s). Generous bound for a loaded machine.
    assert took <= TTL + 2.5, f"takeover took {took:.1f}s with a {TTL:g}s lease"

    # The new leader acts: it checks (last_check_at advances under its name) ...
    h.wait_checks(b, 2)
    assert b.roles() == ["follower", "leader"]
    lease = h.lease()
    assert lease is not None and f":{b.pid}:" in lease["holder"] and lease["pid"] == b.pid
    assert lease["last_check_at"] > before["last_check_at"]
    assert lease["acquired_at"] >= killed_at
    # ... without counting again what a had counted (its checkpoints are a's, not the
    # ones b saw when it started) ...
    assert h.totals() == {"delivered": 297, "bounced": 3, "deferred": 0, "complaints": 0}
    assert sum(r["sent"] for r in h.report()["ips"]) == written
    # ... and reads and decides on new traffic: 12% bounce deprioritizes 10.3.0.2.
    written += h.write_traffic(h.traffic("10.3.0.2", 300, 36))
    h.wait_until(
        lambda: (h.member_row("prod", "10.3.0.2") or {}).get("state") == "deprioritized",
        10,
        "the new leader to deprioritize 10.3.0.2",
    )
    assert ("deprioritize", "10.3.0.2") in {(x["action"], x["ip"]) for x in b.actions()}
    report = h.report()
    assert h.member(report, "prod", "10.3.0.2")["weight"] == 10
    assert sum(r["sent"] for r in report["ips"]) == written
    assert report["engine"]["running"] is True
    assert b.stop() == 0


def test_sigterm_exits_0_within_seconds_releases_the_lease_and_loses_nothing(
    harness: Harness,
) -> None:
    h = harness
    h.write_config(CONFIG)
    written = h.write_traffic(h.traffic("10.3.0.1", 500, 5))
    ep = h.start_engine()
    h.wait_for_leader(ep)
    h.wait_until(lambda: h.totals()["delivered"] == 495, 10, "the engine to read the traffic")

    # A large file (several 8 MB batches): signal the engine while it is reading it.
    big = 250_000
    rows = h.traffic("10.3.0.2", big, 2_500, span=600.0)
    written += h.write_traffic(rows)
    h.wait_until(lambda: h.totals()["delivered"] > 495, 15, "the engine to start on the big file")
    signalled = time.monotonic()
    ep.proc.send_signal(signal.SIGTERM)
    code = ep.proc.wait(10)
    took = time.monotonic() - signalled
    assert code == 0, ep.describe()
    assert took < 5, f"exit took {took:.1f}s after SIGTERM"
    assert ep.says("engine stopped")

    lease = h.lease()
    assert lease is not None and lease["pid"] == ep.pid
    assert lease["expires_at"] <= time.time()  # released, not left to expire
    st = h.status()["engine"]
    assert (st["running"], st["role"]) == (False, "none")

    # Whatever the engine had read is committed whole; the rest is read on the next start
    # (cron's --once here), each event exactly once.
    counted = h.totals()
    assert counted["delivered"] + counted["bounced"] <= written
    h.cli("--no-ui", "--once")
    assert h.totals() == {
        "delivered": 495 + big - 2_500, "bounced": 5 + 2_500, "deferred": 0, "complaints": 0,
    }  # fmt: skip
    assert sum(r["sent"] for r in h.report()["ips"]) == written


def test_sigint_exits_0_and_releases_the_lease(harness: Harness) -> None:
    h = harness
    h.write_config(CONFIG)
    h.write_traffic(h.traffic("10.3.0.1", 100, 1))
    ep = h.start_engine()
    h.wait_for_leader(ep)
    h.wait_checks(ep, 1)
    assert ep.stop(signal.SIGINT, timeout=10) == 0, ep.describe()
    lease = h.lease()
    assert lease is not None and lease["pid"] == ep.pid and lease["expires_at"] <= time.time()
    assert h.totals()["delivered"] == 99
