"""Issue 3 acceptance: operator commands issued (as separate CLI processes) while a headless
engine runs are recorded in the database, applied by the engine within a tick, and show in
``report --format json`` and ``audit --json``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import EngineProc, Harness

SENT = 300
CONFIG = (
    "[[pools]]\n"
    'name = "prod"\n'
    "members = [ "
    + ", ".join(f'{{ ip = "{ip}", weight = 100 }}' for ip in ("10.6.0.1", "10.6.0.12", "10.6.0.20"))
    + " ]\n"
)


def command_rows(h: Harness, verb: str) -> list[dict[str, Any]]:
    return [dict(r) for r in h.sql("SELECT * FROM command WHERE verb = ?", (verb,))]


def applied_by_engine(ep: EngineProc) -> int:
    """Commands the engine's own ticks applied (its log says so)."""
    return sum(int(t.get("commands") or 0) for t in ep.ticks())


@pytest.mark.slow
def test_ack_and_restore_while_the_engine_runs(harness: Harness) -> None:
    h = harness
    h.write_config(CONFIG)
    h.write_traffic(
        h.traffic("10.6.0.1", SENT, 3)
        + h.traffic("10.6.0.12", SENT, 36)
        + h.traffic("10.6.0.20", SENT, 60)
    )
    ep = h.start_engine()
    h.wait_for_leader(ep)
    h.wait_until(
        lambda: (h.member_row("prod", "10.6.0.20") or {}).get("state") == "removed",
        10,
        "the engine to remove 10.6.0.20",
    )
    report = h.report()
    (alert,) = h.alerts_of(report, "10.6.0.12")
    assert (alert["state"], alert["severity"]) == ("firing", "warning")

    # --- alerts ack ID --by NAME ------------------------------------------------------
    t0 = time.monotonic()
    res = h.cli("alerts", "ack", alert["id"], "--by", "alice", "--note", "on it")
    assert time.monotonic() - t0 < 8  # applied at the engine's next tick, not queued
    assert "acknowledged by alice" in res.stdout and "queued" not in res.stdout
    (cmd,) = command_rows(h, "alert.ack")
    assert cmd["actor"] == "alice" and cmd["applied_at"] is not None and cmd["error"] is None
    # the engine applied it, not the CLI process (its tick says so)
    h.wait_until(lambda: applied_by_engine(ep) == 1, 5, "the engine's tick to log it")

    report = h.report()
    (acked,) = h.alerts_of(report, "10.6.0.12")
    assert acked["id"] == alert["id"]
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "alice")
    assert acked["acknowledged_at"] is not None
    ack_entries = [e for e in h.audit() if e["action"] == "ack_alert"]
    assert [(e["actor"], e["ip"], e["reason"]) for e in ack_entries] == [
        ("alice", "10.6.0.12", "on it")
    ]
    # Acknowledged stays acknowledged (open, not re-fired) over a further check.
    h.wait_checks(ep, 1)
    assert h.sql("SELECT state FROM alert WHERE id = ?", (alert["id"],))[0][0] == "acknowledged"

    # --- pools restore POOL IP -----------------------------------------------------------
    # 10.6.0.20 becomes healthy (60 bounced of 1300 = 4.6%); a removed IP still stays out
    # until an operator restores it.
    h.write_traffic(h.traffic("10.6.0.20", 1000, 0))
    h.wait_until(
        lambda: (
            h.sql("SELECT sum(delivered + bounced) FROM bucket WHERE ip = '10.6.0.20'")[0][0]
            == 1300
        ),
        10,
        "the engine to read the healthy traffic",
    )
    h.wait_checks(ep, 2)
    assert (h.member_row("prod", "10.6.0.20") or {}).get("state") == "removed"

    res = h.cli("pools", "restore", "prod", "10.6.0.20", env={"USER": "bob"})
    assert "restored by bob" in res.stdout and "queued" not in res.stdout
    (cmd,) = command_rows(h, "pool.restore")
    assert cmd["actor"] == "bob" and cmd["applied_at"] is not None and cmd["error"] is None
    # the engine applied it, not the CLI process (its tick says so)
    h.wait_until(lambda: applied_by_engine(ep) == 2, 5, "the engine's tick to log it")

    restores = [e for e in h.audit() if e["action"] == "restore"]
    assert [(e["actor"], e["ip"], e["pool"]) for e in restores] == [("bob", "10.6.0.20", "prod")]
    assert "restored by bob" in restores[0]["reason"]
    # Healthy now, so the engine leaves it in rotation.
    h.wait_checks(ep, 1)
    report = h.report()
    m = h.member(report, "prod", "10.6.0.20")
    assert (m["state"], m["weight"], m["base_weight"]) == ("active", 100, 100)
    assert {r["ip"]: r["status"] for r in report["ips"]}["10.6.0.20"] == "active"
    assert ep.stop() == 0
