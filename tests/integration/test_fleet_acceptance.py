"""Issue 13 acceptance: three ``opsconsole --no-ui`` processes on one database (the real
program, each with its own ``OPSCONSOLE_HOST`` and its own host's log), a report in a fourth
process shows the union of their IPs by host, exactly one engine acts (one alert, one
removal), and ``kill -9`` of the leader hands over within the lease TTL. The console
(OpsApp, headless via ``run_test``, in this process) on the same database lists every
host's IPs and counts the hosts in its header. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from opsconsole.settings import Settings
from opsconsole.storage.store import open_store
from opsconsole.tui.app import OpsApp
from tests.integration.conftest import Harness
from tests.integration.test_engine_fleet import sole_leader

if TYPE_CHECKING:
    from tests.integration.conftest import EngineProc

TTL = 3.0
HOSTS = ("mx-a", "mx-b", "mx-c")
BAD_IP = "10.13.0.1"  # on mx-a: 30% bounces, removed from the pool by the one leader
CONFIG = (
    "[[pools]]\n"
    'name = "prod"\n'
    f'members = [ {{ ip = "{BAD_IP}", weight = 100 }}, {{ ip = "10.13.0.2", weight = 100 }} ]\n'
)


def ips_of(host_index: int) -> list[str]:
    return [f"10.13.{host_index}.{k}" for k in (1, 2, 3)]


def by_host(report: dict[str, Any]) -> dict[str, str]:
    return {r["ip"]: r["host"] for r in report["ips"]}


@pytest.mark.slow
def test_three_hosts_one_database_union_by_host_one_actor_and_handover(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs: dict[str, Harness] = {}
    truth: dict[str, tuple[str, int]] = {}
    for i, host in enumerate(HOSTS):
        h = Harness(tmp_path / host, db_url)
        h.write_config(CONFIG, monitor=f'lease_ttl = "{TTL:g}s"')
        for ip in ips_of(i):
            bounced = 30 if ip == BAD_IP else 1
            h.write_traffic(h.traffic(ip, 100, bounced))
            truth[ip] = (host, 100)
        hs[host] = h
    engines: dict[str, EngineProc] = {}
    try:
        for host, h in hs.items():  # all at once, on a new database
            monkeypatch.setenv("OPSCONSOLE_HOST", host)
            engines[host] = h.start_engine(name=host)
        monkeypatch.delenv("OPSCONSOLE_HOST")
        procs = list(engines.values())
        any_h = hs[HOSTS[0]]
        leader = any_h.wait_until(lambda: sole_leader(any_h, procs), 30, "one leader")

        # A fourth process: the report has every host's IPs, each under its own host.
        seen: dict[str, tuple[str, int]] = {}

        def union() -> dict[str, Any] | None:
            rep = any_h.report()
            seen.clear()
            seen.update((r["ip"], (r["host"], r["sent"])) for r in rep["ips"])
            return rep if seen == truth else None

        def differs() -> str:
            wrong = {ip: (seen.get(ip), want) for ip, want in truth.items() if seen.get(ip) != want}
            logs = "\n".join(f"--- {e.pid}:\n{e.describe()}" for e in procs)
            return f"(seen, wanted): {wrong}\n{logs}"

        rep = any_h.wait_until(union, 30, "the union of the three hosts' IPs", explain=differs)
        hosts = {x["host"]: x for x in rep["hosts"]}
        assert set(hosts) == set(HOSTS)
        assert all(x["engine_running"] for x in hosts.values())
        assert sorted(x["role"] for x in hosts.values()) == ["follower", "follower", "leader"]
        one = any_h.cli("report", "--format", "json", "--host", "mx-b")
        assert sorted(by_host(json.loads(one.stdout))) == ips_of(1)

        # Exactly one engine acts: one alert and one removal for the bad IP, checks logged
        # by the leader only.
        any_h.wait_until(
            lambda: (any_h.member_row("prod", BAD_IP) or {}).get("state") == "removed",
            20,
            "the leader to remove the bad IP",
        )
        any_h.wait_checks(leader, 2, timeout=15)
        alerts = any_h.sql("SELECT count(*) FROM alert WHERE ip = ?", (BAD_IP,))[0][0]
        removals = any_h.sql(
            "SELECT count(*) FROM audit WHERE action = 'remove' AND ip = ?", (BAD_IP,)
        )[0][0]
        assert (alerts, removals) == (1, 1)
        for e in procs:
            if e is not leader:
                assert e.checks() == 0, e.describe()

        # The console in a fourth process's place: every host's IPs in the IPs panel.
        _console_shows_the_fleet(db_url, set(truth))

        # kill -9 the leader: another takes over within the lease TTL (+ one tick).
        leader.proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        assert leader.proc.wait(5) == -signal.SIGKILL
        left = [e for e in procs if e.alive()]
        new = any_h.wait_until(lambda: sole_leader(any_h, left), 2 * TTL + 5, "a new leader")
        took = time.time() - killed_at
        assert took <= TTL + 2.5, f"takeover took {took:.1f}s with a {TTL:g}s lease"
        assert new is not leader
        # The dead host stays in the view, not running; the rest go on counting.
        dead = next(host for host, e in engines.items() if e is leader)

        def dead_shown() -> bool:
            xs = {x["host"]: x for x in any_h.report()["hosts"]}
            return not xs[dead]["engine_running"] and xs[dead]["fresh"] is False

        any_h.wait_until(dead_shown, 15, "the dead host shown as stopped")
        live_host = next(host for host, e in engines.items() if e is new)
        i = HOSTS.index(live_host)
        hs[live_host].write_traffic(hs[live_host].traffic(ips_of(i)[0], 50, 0))
        want = truth[ips_of(i)[0]][1] + 50
        any_h.wait_until(
            lambda: {r["ip"]: r["sent"] for r in any_h.report()["ips"]}[ips_of(i)[0]] == want,
            15,
            "the new leader's host to read on",
        )
        alerts = any_h.sql("SELECT count(*) FROM alert WHERE ip = ?", (BAD_IP,))[0][0]
        assert alerts == 1  # the new leader did not open it again
    finally:
        for h in hs.values():
            h.close()


def _console_shows_the_fleet(db_url: str, ips: set[str]) -> None:
    import asyncio

    async def go() -> tuple[set[str], set[str], str]:
        store = await open_store(db_url)
        app = OpsApp(Settings(db=db_url, host="console", tui={"refresh": 0.2}), store)
        try:
            async with app.run_test(size=(160, 40)) as pilot:
                deadline = time.monotonic() + 20
                shown: set[str] = set()
                while time.monotonic() < deadline:
                    await pilot.pause(0.1)
                    panel = app.main.panel("ips")
                    items = [r.item for r in panel._rows.values()]
                    shown = {it["ip"] for it in items}
                    if ips <= shown:
                        break
                hosts = {it["host"] for it in items if it["ip"] in ips}
                header = str(app.main.query_one("#status").render())
                await pilot.press("q")
            return shown, hosts, header
        finally:
            await store.close()

    shown, hosts, header = asyncio.run(go())
    assert ips <= shown
    assert hosts == set(HOSTS)
    assert "hosts 3/3 fresh" in header, header
