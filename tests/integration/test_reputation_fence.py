"""Issue 18.2 for the reputation job: a stale leader's reputation run commits nothing.

Two real engines (make_runtime on one SQLite file, real clock, lease TTL 1 s) with DNSBL
checks against the local DNS server. Engine A starts a reputation run, which is held just
before it commits its alerts and actions (what a slow resolver or a long run over many IPs
does), while A stops renewing (a partition, a pause). B takes the lease over after the TTL
and runs its own reputation check. When A's run resumes, its lease epoch is gone: its
commit is refused. Exactly one alert, one deprioritize audit, one hook journal row."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from opsconsole.core.engine.setup import apply_config
from opsconsole.core.ports import Changes, Fence
from opsconsole.core.reputation.job import ReputationService
from opsconsole.settings import load_settings
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore
from opsconsole.wiring import engine_config, make_runtime
from tests.helpers import dns_server as dns
from tests.helpers.dns_server import DnsServer
from tests.integration.test_reputation_engine import IP, SPAMCOP, healthy, q, write_config

dns_server = dns.dns_server
TTL = 1.0


class HeldStore(SqlStore):
    """A real store whose reputation-run commit waits for ``resume`` (once ``hold``).

    The run is recognised as ``held_service.task`` at commit time: the service sets it when it
    creates the task, so a run that reaches its commit before ``tick`` returns is held too.
    (``resume``, not ``release``: SqlStore.release gives the lease back at close.)"""

    hold = False

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self.arrived = asyncio.Event()
        self.resume = asyncio.Event()
        self.held_service: ReputationService | None = None

    async def commit(self, changes: Changes, now: float, fence: Fence | None = None) -> int:
        task = asyncio.current_task()
        run = self.held_service.task if self.held_service is not None else None
        if self.hold and task is not None and task is run:
            self.arrived.set()
            await self.resume.wait()
        return await super().commit(changes, now, fence)


def service(rt: Any) -> ReputationService:
    (svc,) = [s for s in rt.services if isinstance(s, ReputationService)]
    return svc


def counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        one = lambda sql: int(con.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "alerts": one("SELECT count(*) FROM alert WHERE rule = 'dnsbl_listed'"),
            "deprioritized": one("SELECT count(*) FROM audit WHERE action = 'deprioritize'"),
            "journal": one("SELECT count(*) FROM journal"),
        }
    finally:
        con.close()


async def test_a_stale_leaders_reputation_run_commits_nothing(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    healthy(dns_server, SPAMCOP)
    dns_server.set_a(q(IP, SPAMCOP), "127.0.0.2", ttl=60)
    cfg = write_config(
        tmp_path,
        f'zones = ["{SPAMCOP}"]\nnameservers = ["{dns_server.nameserver}"]\n'
        f'[reputation.zone."{SPAMCOP}"]\non_listed = "deprioritize"\n',
    )
    text = cfg.read_text().replace(
        "[reputation]",
        f'[monitor]\nlease_ttl = "{TTL:g}s"\ncheck_interval = "1s"\n'
        '[[actions]]\non = ["deprioritize"]\nrun = ["/bin/true"]\n[reputation]',
    )
    cfg.write_text(text)
    s = load_settings(cfg)
    store_a = HeldStore(await open_database(s.db))
    store_b = SqlStore(await open_database(s.db))
    a = make_runtime(s.model_copy(update={"host": "a"}), store_a)
    b = make_runtime(s.model_copy(update={"host": "b"}), store_b)
    svc_a, svc_b = service(a), service(b)
    try:
        await apply_config(store_a, engine_config(s), time.time())
        store_a.hold = True
        store_a.held_service = svc_a
        await a.tick(force_check=True)
        assert a.role == "leader" and svc_a.task is not None
        await asyncio.wait_for(store_a.arrived.wait(), 20)  # A decided; not committed yet

        await asyncio.sleep(TTL * 1.5)  # A renews nothing meanwhile: its lease expires
        await b.tick(force_check=True)
        assert b.role == "leader"
        assert svc_b.task is not None
        await asyncio.wait_for(svc_b.task, 20)
        assert counts(tmp_path / "o.db") == {"alerts": 1, "deprioritized": 1, "journal": 1}

        store_a.resume.set()
        await asyncio.wait_for(svc_a.task, 20)  # refused by the fence, not raised
        assert counts(tmp_path / "o.db") == {"alerts": 1, "deprioritized": 1, "journal": 1}
        await a.tick(force_check=True)
        assert a.role == "follower"
    finally:
        await a.close()
        await b.close()
        await store_a.close()
        await store_b.close()
