"""A fleet on one database: three engines started at once on a NEW database (so they also
race through the migration), exactly one leads; ``kill -9`` the leader and exactly one of
the others takes over within 2x the lease time, twice over. Runs on SQLite and PostgreSQL.

On PostgreSQL only: the leader's database connections are killed server-side
(``pg_terminate_backend``); the engine must ride it out (reconnect, keep leading or hand
over cleanly), not crash or crash-loop.
"""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import pytest

from tests.helpers import pg

if TYPE_CHECKING:
    from tests.integration.conftest import EngineProc, Harness

TTL = 3.0
CONFIG = (
    "[[pools]]\n"
    'name = "prod"\n'
    'members = [ { ip = "10.9.0.1", weight = 100 }, { ip = "10.9.0.2", weight = 100 } ]\n'
)


def leaders(engines: list[EngineProc]) -> list[EngineProc]:
    """The live engines whose last logged role is leader."""
    return [e for e in engines if e.alive() and e.roles()[-1:] == ["leader"]]


def sole_leader(h: Harness, engines: list[EngineProc]) -> EngineProc | None:
    """The one engine that both holds the lease and says it leads, with every other live
    engine saying it follows; None while that is not (yet) so."""
    for e in engines:
        if not e.alive() and e.proc.returncode != -signal.SIGKILL:
            raise AssertionError(f"engine {e.pid} exited {e.proc.returncode}:\n{e.describe()}")
    pid = h.leader_pid()
    lead = leaders(engines)
    if pid is None or len(lead) != 1 or lead[0].pid != pid:
        return None
    others = [e for e in engines if e.alive() and e is not lead[0]]
    if any(e.roles()[-1:] != ["follower"] for e in others):
        return None
    return lead[0]


@pytest.mark.slow
def test_three_engines_one_leader_and_two_takeovers_after_kill_9(harness: Harness) -> None:
    h = harness
    h.write_config(CONFIG, monitor=f'lease_ttl = "{TTL:g}s"')
    written = h.write_traffic(h.traffic("10.9.0.1", 300, 3))
    engines = [h.start_engine(name=f"e{i}") for i in range(3)]  # all at once, new database

    leader = h.wait_until(lambda: sole_leader(h, engines), 20, "one leader, two followers")
    h.wait_until(lambda: h.totals()["delivered"] == 297, 15, "the leader to read the traffic")
    h.wait_checks(leader, 2)
    assert sole_leader(h, engines) is leader  # stable: nobody else took it meanwhile
    st = h.status()["engine"]
    assert (st["running"], st["role"]) == (True, "leader")
    assert f":{leader.pid}:" in st["holder"]

    for _ in range(2):
        leader.proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        assert leader.proc.wait(5) == -signal.SIGKILL
        left = [e for e in engines if e.alive()]
        new = h.wait_until(lambda left=left: sole_leader(h, left), 2 * TTL + 5, "a new leader")
        took = time.time() - killed_at
        assert took <= 2 * TTL, f"takeover took {took:.1f}s with a {TTL:g}s lease"
        assert new is not leader and new.alive()
        written += h.write_traffic(h.traffic("10.9.0.1", 100, 1))
        h.wait_until(
            lambda n=written: h.totals()["delivered"] + h.totals()["bounced"] == n,
            15,
            "the new leader to read the new traffic",
        )
        assert sole_leader(h, left) is new
        leader = new
    # Every event counted exactly once across three leaders.
    assert sum(r["sent"] for r in h.report()["ips"]) == written
    assert leader.stop() == 0, leader.describe()


@pytest.mark.slow
def test_leader_survives_its_backends_being_terminated(harness: Harness) -> None:
    h = harness
    if not h.db.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    h.write_config(CONFIG, monitor=f'lease_ttl = "{TTL:g}s"')
    written = h.write_traffic(h.traffic("10.9.0.1", 200, 2))
    a = h.start_engine(name="a")
    h.wait_for_leader(a)
    h.wait_until(lambda: h.totals()["delivered"] == 198, 15, "the engine to read the traffic")
    for _ in range(3):
        # Every other session on the database is the engine's (the test's reads are one-shot).
        killed = pg.query(
            h.db,
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid != pg_backend_pid()",
        )[0][0]
        assert killed >= 1
        h.wait_checks(a, 2, timeout=15)
        assert a.alive(), a.describe()
    assert h.leader_pid() == a.pid
    written += h.write_traffic(h.traffic("10.9.0.2", 100, 1))
    h.wait_until(
        lambda: h.totals()["delivered"] + h.totals()["bounced"] == written, 15, "more traffic"
    )
    assert a.roles()[0] == "leader"
    assert a.stop() == 0, a.describe()
