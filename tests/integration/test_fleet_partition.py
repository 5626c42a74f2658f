"""Issue 13.3 on PostgreSQL: a network-partitioned leader stops acting before another
starts. Engine A reaches the database through a loopback TCP proxy; ``cut()`` resets its
connections and refuses new ones (what a dropped route does), then its backends are also
terminated server-side, repeatedly. Engine B (direct) takes over once A's lease expires and
acts on what arrives meanwhile; A, healed, finds its epoch gone and follows. Exactly one
alert and one removal per bad IP across both engines; A never crashes; every event (A's
own host's log included, read after the heal) is counted once. Then ``kill -9`` of the
leader hands over to A within 2x the lease TTL.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import pg
from tests.helpers.tcp_proxy import TcpProxy
from tests.integration.conftest import EngineProc, Harness

TTL = 3.0
IP1, IP2 = "10.14.0.1", "10.14.0.2"
CONFIG = (
    "[[pools]]\n"
    'name = "prod"\n'
    f'members = [ {{ ip = "{IP1}", weight = 100 }}, {{ ip = "{IP2}", weight = 100 }},'
    ' { ip = "10.14.0.9", weight = 100 } ]\n'
)


def first_ts(e: EngineProc, pred: Any) -> float | None:
    for r in e.log():
        if pred(r) and "ts" in r:
            return datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
    return None


def counts(h: Harness, ip: str) -> tuple[int, int]:
    alerts = h.sql("SELECT count(*) FROM alert WHERE ip = ? AND rule = 'bounce_rate'", (ip,))
    removals = h.sql("SELECT count(*) FROM audit WHERE action = 'remove' AND ip = ?", (ip,))
    return int(alerts[0][0]), int(removals[0][0])


@pytest.mark.slow
def test_a_partitioned_leader_stops_before_another_starts(
    tmp_path: Path, db_url: str, pg_cluster: pg.PgCluster
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a network partition needs a database across a network: PostgreSQL")
    proxy = TcpProxy(pg_cluster.port).start()
    via_proxy = db_url.replace(f":{pg_cluster.port}/", f":{proxy.port}/")
    ha = Harness(tmp_path / "a", via_proxy)
    hb = Harness(tmp_path / "b", db_url)
    for h in (ha, hb):
        h.write_config(CONFIG, monitor=f'lease_ttl = "{TTL:g}s"')
    written = ha.write_traffic(ha.traffic(IP1, 100, 30))  # 30%: remove IP1
    try:
        a = ha.start_engine(name="a")
        ha.wait_for_leader(a, 20)
        b = hb.start_engine(name="b")
        hb.wait_until(lambda: b.roles() == ["follower"], 15, "b to follow")
        hb.wait_until(lambda: counts(hb, IP1) == (1, 1), 20, "a to remove IP1")

        # The partition: A's connections reset, new ones refused, its backends killed.
        proxy.cut()
        cut_at = time.time()
        for _ in range(3):  # and every backend killed, repeatedly (B rides that out)
            pg.query(
                db_url,
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid != pg_backend_pid()",
            )
            time.sleep(0.3)
        written += hb.write_traffic(hb.traffic(IP2, 100, 30))  # on B's host: remove IP2
        written += ha.write_traffic(ha.traffic("10.14.0.9", 40, 0))  # on A's host, unread yet
        hb.wait_until(lambda: b.roles()[-1:] == ["leader"], 2 * TTL + 5, "b to take over")
        took = time.time() - cut_at
        assert took <= 2 * TTL + 1, f"takeover {took:.1f}s after the cut, lease {TTL:g}s"
        hb.wait_until(lambda: counts(hb, IP2) == (1, 1), 20, "b to remove IP2")
        b_leads_at = first_ts(b, lambda r: r.get("event") == "role" and r["role"] == "leader")
        assert b_leads_at is not None
        # A acted on nothing after B started: no audit entry of A's after B took over, and
        # A's own lease expired before B's began.
        rows = hb.sql("SELECT actor, at FROM audit WHERE action = 'remove' ORDER BY at")
        assert len(rows) == 2 and rows[0][1] < b_leads_at <= rows[1][1] + 1

        proxy.heal()
        hb.wait_until(
            lambda: a.roles()[-1:] == ["follower"] or not a.alive(), 20, "a to follow, healed"
        )
        assert a.alive(), a.describe()
        # A, a follower now, reads its own host's log: nothing lost, nothing twice.
        hb.wait_until(lambda: sum(hb.totals().values()) == written, 20, "every event counted once")
        assert counts(hb, IP1) == (1, 1) and counts(hb, IP2) == (1, 1)
        assert hb.leader_pid() == b.pid

        # kill -9 the leader: A (healed) takes over within 2x the TTL.
        b.proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        assert b.proc.wait(5) == -signal.SIGKILL
        hb.wait_until(lambda: hb.leader_pid() == a.pid, 2 * TTL + 5, "a to lead again")
        assert time.time() - killed_at <= 2 * TTL
        hb.wait_checks(a, 2, timeout=15)
        assert counts(hb, IP1) == (1, 1) and counts(hb, IP2) == (1, 1)
        assert a.stop() == 0, a.describe()
    finally:
        ha.close()
        hb.close()
        proxy.stop()
