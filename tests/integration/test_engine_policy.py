"""Issue 3 acceptance: the policy table of spec section 4, end to end through the real
headless engine (and ``--no-ui --once``), as ``report --format json`` shows it.

One pool of production IPs (weight 100 each) and several warming IPs; traffic puts an IP of
each kind at 1%, 7%, 12% and 20% bounce over 300 sent:

=========  ===================================  ====================================
bounce     production (pool ``prod``)           warming (``[[warmups]]``)
=========  ===================================  ====================================
1%         untouched, no alert                  untouched, no alert
7%         unchanged, ``info`` alert            unchanged, ``info`` alert
12%        deprioritized 100 -> 10, ``warning``  held, ``warning`` alert
20%        removed (weight 0), ``critical``      paused, ``critical`` alert
=========  ===================================  ====================================
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.integration.conftest import Harness

SENT = 300
PROD = {"10.1.0.1": 3, "10.1.0.7": 21, "10.1.0.12": 36, "10.1.0.20": 60}  # ip -> bounced
WARM = {"10.2.0.1": 3, "10.2.0.7": 21, "10.2.0.12": 36, "10.2.0.20": 60}

CONFIG = (
    "[[pools]]\n"
    'name = "prod"\n'
    "members = [\n" + "".join(f'  {{ ip = "{ip}", weight = 100 }},\n' for ip in PROD) + "]\n\n"
    # A schedule whose day-one quota is above the test traffic: no over-quota alerts here.
    "[warmup.schedules.roomy]\n"
    "stage_days = 7\n"
    "daily_quotas = [1000, 5000, 20000]\n\n"
    + "".join(f'[[warmups]]\nip = "{ip}"\npool = "prod"\nschedule = "roomy"\n\n' for ip in WARM)
)

EXPECTED_ACTIONS = {
    ("deprioritize", "10.1.0.12"),
    ("remove", "10.1.0.20"),
    ("hold_warmup", "10.2.0.12"),
    ("pause_warmup", "10.2.0.20"),
}


def setup(h: Harness) -> int:
    h.write_config(CONFIG)
    rows: list[dict[str, Any]] = []
    for ip, bounced in {**PROD, **WARM}.items():
        rows += h.traffic(ip, SENT, bounced)
    return h.write_traffic(rows)


def decided(h: Harness) -> bool:
    """All four actions are in the database (polled cheaply; the report is checked after)."""
    return (
        (h.member_row("prod", "10.1.0.12") or {}).get("state") == "deprioritized"
        and (h.member_row("prod", "10.1.0.20") or {}).get("state") == "removed"
        and h.plan_state("10.2.0.12") == "held"
        and h.plan_state("10.2.0.20") == "paused"
    )


def decided_in(h: Harness, report: dict[str, Any]) -> bool:
    return (
        h.member(report, "prod", "10.1.0.12")["state"] == "deprioritized"
        and h.member(report, "prod", "10.1.0.20")["state"] == "removed"
        and h.plan(report, "10.2.0.12")["state"] == "held"
        and h.plan(report, "10.2.0.20")["state"] == "paused"
    )


def assert_policy_table(h: Harness, report: dict[str, Any]) -> None:
    # Production: 12% deprioritized to a tenth of its base weight, 20% removed.
    assert h.member(report, "prod", "10.1.0.12") | {"daily_cap": None} == {
        "ip": "10.1.0.12", "weight": 10.0, "base_weight": 100.0, "state": "deprioritized",
        "daily_cap": None,
    }  # fmt: skip
    removed = h.member(report, "prod", "10.1.0.20")
    assert (removed["state"], removed["weight"], removed["base_weight"]) == ("removed", 0, 100)
    for ip in ("10.1.0.1", "10.1.0.7"):  # healthy and 7%: untouched
        m = h.member(report, "prod", ip)
        assert (m["state"], m["weight"], m["base_weight"]) == ("active", 100, 100), ip

    # Warming: 12% held, 20% paused; 1% and 7% keep warming. Their pool membership is the
    # plan's business: still "warming" at base weight whatever their plan's state.
    states = {ip: h.plan(report, ip)["state"] for ip in WARM}
    assert states == {
        "10.2.0.1": "warming", "10.2.0.7": "warming", "10.2.0.12": "held", "10.2.0.20": "paused",
    }  # fmt: skip
    for ip in WARM:
        m = h.member(report, "prod", ip)
        assert (m["state"], m["weight"]) == ("warming", 100), ip
        assert h.plan(report, ip)["stage"] in (0, 1)  # not advanced, whatever the indexing

    # The ips rows carry the same verdicts and the exact rates.
    rows = {r["ip"]: r for r in report["ips"]}
    assert set(rows) == set(PROD) | set(WARM)
    expected = {
        "10.1.0.1": ("active", "ok", 0.01), "10.1.0.7": ("active", "warning", 0.07),
        "10.1.0.12": ("deprioritized", "critical", 0.12), "10.1.0.20": ("removed", "block", 0.2),
        "10.2.0.1": ("warming", "ok", 0.01), "10.2.0.7": ("warming", "warning", 0.07),
        "10.2.0.12": ("held", "critical", 0.12), "10.2.0.20": ("paused", "block", 0.2),
    }  # fmt: skip
    for ip, (status, severity, rate) in expected.items():
        r = rows[ip]
        assert (r["status"], r["severity"], r["sent"]) == (status, severity, SENT), ip
        assert r["bounce_rate"] == rate, ip
    assert [r["bounce_rate"] for r in report["ips"]] == sorted(
        (r["bounce_rate"] for r in report["ips"]), reverse=True
    )

    # Alerts: severity follows the action (warning breach -> info, critical -> warning,
    # block -> critical); healthy IPs have none; one alert per key, all firing.
    got = {a["ip"]: a for a in report["alerts"]}
    assert len(report["alerts"]) == 6, report["alerts"]
    assert {ip: (a["rule"], a["severity"], a["state"]) for ip, a in got.items()} == {
        "10.1.0.7": ("bounce_rate", "info", "firing"),
        "10.2.0.7": ("bounce_rate", "info", "firing"),
        "10.1.0.12": ("bounce_rate", "warning", "firing"),
        "10.2.0.12": ("bounce_rate", "warning", "firing"),
        "10.1.0.20": ("bounce_rate", "critical", "firing"),
        "10.2.0.20": ("bounce_rate", "critical", "firing"),
    }
    assert "removed from rotation" in got["10.1.0.20"]["message"]
    assert "20.00%" in got["10.1.0.20"]["message"]
    assert got["10.1.0.12"]["value"] == 0.12


def assert_audited_once(h: Harness) -> None:
    """Each action audited exactly once by the engine, with its numbers, however many
    checks ran; nothing else was done to any IP."""
    entries = h.audit()
    engine_actions = [(e["action"], e["ip"]) for e in entries if e["actor"] == "engine"]
    assert sorted(engine_actions) == sorted(EXPECTED_ACTIONS)
    for e in entries:
        if e["actor"] == "engine":
            assert e["pool"] == "prod"
            assert "bounce" in e["reason"] and "of 300 sent" in e["reason"], e
    # The config declared the four plans (audited as such) and nothing else happened.
    assert sorted(e["ip"] for e in entries if e["action"] == "start_warmup") == sorted(WARM)


def test_headless_engine_applies_the_policy_table_within_seconds(harness: Harness) -> None:
    h = harness
    written = setup(h)
    ep = h.start_engine()

    def poll() -> bool:
        assert ep.alive(), ep.describe()
        return decided(h)

    # "Within a few seconds" of starting the process (interpreter start-up included).
    h.wait_until(poll, 10, "the engine to deprioritize, remove, hold and pause")
    # Visible in the report as soon as decided (the report reads the same tables).
    assert decided_in(h, h.report())
    # Several more checks change nothing: decisions are stable, actions not repeated.
    h.wait_checks(ep, 3)
    report = h.report()
    assert_policy_table(h, report)
    assert report["engine"]["running"] is True
    assert report["engine"]["role"] == "leader"
    assert report["engine"]["check_interval_seconds"] == 1
    assert sum(r["sent"] for r in report["ips"]) == written
    assert_audited_once(h)
    # One log line per action, JSON, with the numbers.
    logged = {(a["action"], a["ip"]) for a in ep.actions()}
    assert logged == EXPECTED_ACTIONS
    assert all(a["numbers"]["sent"] == SENT for a in ep.actions())
    assert ep.stop() == 0


def test_once_makes_the_same_decisions_and_prints_its_summary(harness: Harness) -> None:
    h = harness
    written = setup(h)
    res = h.cli("--no-ui", "--once", "--log-format", "json")
    summary = json.loads(res.stdout)
    assert summary["role"] == "leader"
    assert summary["lines"] == written and summary["events"] == written
    assert {(a["action"], a["ip"]) for a in summary["actions"]} == EXPECTED_ACTIONS
    assert len(summary["actions"]) == 4
    assert summary["alerts_opened"] == 6 and summary["alerts_resolved"] == 0
    for a in summary["actions"]:
        assert a["actor"] == "engine" and a["pool"] == "prod"
        assert a["numbers"]["sent"] == SENT

    report = h.report()
    assert_policy_table(h, report)
    assert report["engine"]["running"] is False  # --once released the lease on exit
    assert report["engine"]["last_check_at"] is not None
    assert_audited_once(h)

    # A second run from cron: nothing new to read, nothing new to do.
    again = json.loads(h.cli("--no-ui", "--once").stdout)
    assert (again["lines"], again["events"], again["actions"]) == (0, 0, [])
    assert (again["alerts_opened"], again["alerts_resolved"]) == (0, 0)
    assert h.sql("SELECT count(*) FROM audit WHERE actor = 'engine'")[0][0] == 4
