"""Issue 3 acceptance: recovery through the real engine.

The bad IPs recover in their rolling window (healthy traffic arrives and their rate falls
under ``warning``). Then, exactly at the ``recover_checks``-th healthy check, the
deprioritized IP gets its base weight back and its alerts auto-resolve; a hold caused by
severity lifts at the first healthy check; and a new breach after the resolve opens a new
alert with a new id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.integration.conftest import EngineProc, Harness

RECOVER_CHECKS = 3
SENT = 300
CONFIG = (
    "[[pools]]\n"
    'name = "prod"\n'
    'members = [ { ip = "10.7.0.7", weight = 100 }, { ip = "10.7.0.12", weight = 100 } ]\n\n'
    "[warmup.schedules.roomy]\nstage_days = 7\ndaily_quotas = [5000, 10000]\n\n"
    '[[warmups]]\nip = "10.7.1.12"\npool = "prod"\nschedule = "roomy"\n'
)


def checks_through_recovery(ep: EngineProc, healthy_events: int) -> tuple[int, dict[str, Any]]:
    """(checks from the tick that read the healthy traffic through the one that
    recovered the member, that tick's log record)."""
    log = ep.log()
    start = next(
        i for i, r in enumerate(log) if r.get("event") == "tick" and r["events"] == healthy_events
    )
    acted = next(
        i
        for i, r in enumerate(log)
        if r.get("event") == "action" and r["action"] == "recover" and r["ip"] == "10.7.0.12"
    )
    tick_idx = next(i for i in range(acted, len(log)) if log[i].get("event") == "tick")
    checks = sum(1 for r in log[start : tick_idx + 1] if r.get("event") == "tick" and r["checked"])
    return checks, log[tick_idx]


def test_recovered_ips_get_weight_back_and_alerts_resolve_after_recover_checks(
    harness: Harness,
) -> None:
    h = harness
    h.write_config(CONFIG, monitor=f"recover_checks = {RECOVER_CHECKS}")
    h.write_traffic(
        h.traffic("10.7.0.7", SENT, 21)
        + h.traffic("10.7.0.12", SENT, 36)
        + h.traffic("10.7.1.12", SENT, 36)
    )
    ep = h.start_engine()
    h.wait_until(
        lambda: (
            (h.member_row("prod", "10.7.0.12") or {}).get("state") == "deprioritized"
            and h.plan_state("10.7.1.12") == "held"
        ),
        10,
        "the engine to deprioritize 10.7.0.12 and hold 10.7.1.12",
    )
    report = h.report()
    assert h.member(report, "prod", "10.7.0.12")["weight"] == 10
    opened = {a["ip"]: a for a in report["alerts"]}
    assert {ip: (a["severity"], a["state"]) for ip, a in opened.items()} == {
        "10.7.0.7": ("info", "firing"),
        "10.7.0.12": ("warning", "firing"),
        "10.7.1.12": ("warning", "firing"),
    }

    # Healthy traffic in the same window: 36/1200 = 3%, 21/600 = 3.5%, 36/1200 = 3%.
    healthy = h.write_traffic(
        h.traffic("10.7.0.7", 300, 0)
        + h.traffic("10.7.0.12", 900, 0)
        + h.traffic("10.7.1.12", 900, 0)
    )
    h.wait_until(
        lambda: (h.member_row("prod", "10.7.0.12") or {}).get("state") == "active",
        RECOVER_CHECKS + 8,
        "10.7.0.12 to recover",
    )
    h.wait_checks(ep, 1)  # the recovering check's tick is logged by now
    checks, tick = checks_through_recovery(ep, healthy)
    assert checks == RECOVER_CHECKS, ep.describe()
    assert tick["alerts_resolved"] == 3  # all three alerts resolve at that same check

    report = h.report()
    m = h.member(report, "prod", "10.7.0.12")
    assert (m["state"], m["weight"], m["base_weight"]) == ("active", 100, 100)
    assert h.plan(report, "10.7.1.12")["state"] == "warming"
    for a in report["alerts"]:
        assert a["state"] == "resolved" and a["resolved_at"] is not None, a
        assert a["id"] == opened[a["ip"]]["id"]
    history = h.sql("SELECT alert_id, transition FROM alert_event ORDER BY id")
    for a in opened.values():
        assert [t for i, t in history if i == a["id"]] == ["opened", "resolved"]

    audit = h.audit()
    engine_did = [(e["action"], e["ip"]) for e in reversed(audit) if e["actor"] == "engine"]
    assert engine_did == [
        ("deprioritize", "10.7.0.12"),
        ("hold_warmup", "10.7.1.12"),
        ("resume_warmup", "10.7.1.12"),  # a severity hold lifts at the first healthy check
        ("recover", "10.7.0.12"),
    ]
    recover = next(e for e in audit if e["action"] == "recover")
    assert recover["reason"].startswith(f"recovered after {RECOVER_CHECKS} healthy checks")
    resume = next(e for e in audit if e["action"] == "resume_warmup")
    assert "hold released" in resume["reason"]

    # A new breach after the resolve opens a new alert (new id), not the old one again:
    # 41 bounced of 620 = 6.6%, a warning breach.
    h.write_traffic(h.traffic("10.7.0.7", 20, 20))
    h.wait_until(
        lambda: h.sql("SELECT 1 FROM alert WHERE ip = '10.7.0.7' AND state = 'firing'"),
        10,
        "a new alert for 10.7.0.7",
    )
    alerts = h.alerts_of(h.report(), "10.7.0.7")
    assert sorted(a["state"] for a in alerts) == ["firing", "resolved"]
    new = next(a for a in alerts if a["state"] == "firing")
    assert new["id"] != opened["10.7.0.7"]["id"] and new["severity"] == "info"
    assert new["value"] == 41 / 620
    assert ep.stop() == 0
