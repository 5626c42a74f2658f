"""Issue 3 acceptance: ``[[actions]]`` hooks run for remove, deprioritize and pause_warmup
with the right arguments (argv, no shell), once per action, and their outcome is audited
as ``hook:<action>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.integration.conftest import Harness

SENT = 300
PROD = {"10.5.0.1": 3, "10.5.0.12": 36, "10.5.0.20": 60}
WARM = {"10.5.1.12": 36, "10.5.1.20": 60}  # held (no hook configured for it), paused

HOOK = """\
import json, sys
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps(sys.argv[2:]) + "\\n")
"""


def config(script: Path, out: Path) -> str:
    members = ", ".join(f'{{ ip = "{ip}", weight = 100 }}' for ip in PROD)
    warmups = "".join(
        f'[[warmups]]\nip = "{ip}"\npool = "ramp"\nschedule = "roomy"\n\n' for ip in WARM
    )
    run = [sys.executable, str(script), str(out), "{action}", "{ip}", "{pool}", "{reason}"]
    return (
        f'[[pools]]\nname = "prod"\nmembers = [ {members} ]\n\n'
        "[warmup.schedules.roomy]\nstage_days = 7\ndaily_quotas = [1000, 5000]\n\n"
        f"{warmups}"
        "[[actions]]\n"
        'on = ["remove", "deprioritize", "pause_warmup"]\n'
        f"run = {json.dumps(run)}\n"
        'timeout = "10s"\n'
    )


def test_action_hooks_run_with_the_right_arguments_and_are_audited(harness: Harness) -> None:
    h = harness
    script = h.root / "hook.py"
    script.write_text(HOOK, encoding="utf-8")
    out = h.root / "hook-calls.jsonl"
    h.write_config(config(script, out))
    rows: list[dict[str, Any]] = []
    for ip, bounced in {**PROD, **WARM}.items():
        rows += h.traffic(ip, SENT, bounced)
    h.write_traffic(rows)

    ep = h.start_engine()

    def calls() -> list[list[str]]:
        if not out.exists():
            return []
        return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]

    h.wait_until(lambda: len(calls()) >= 3, 15, "three hook runs")
    h.wait_checks(ep, 3)  # more checks, same numbers: no more actions, no more hook runs
    got = calls()
    assert len(got) == 3, got
    by_action = {c[0]: c for c in got}
    assert by_action["deprioritize"] == [
        "deprioritize", "10.5.0.12", "prod", "deprioritized: bounce 12.00% of 300 sent in 1h",
    ]  # fmt: skip
    assert by_action["remove"] == [
        "remove", "10.5.0.20", "prod", "removed: bounce 20.00% of 300 sent in 1h",
    ]  # fmt: skip
    assert by_action["pause_warmup"] == [
        "pause_warmup", "10.5.1.20", "ramp", "paused: bounce 20.00% of 300 sent in 1h",
    ]  # fmt: skip

    audit = h.audit()
    hooks = {e["action"]: e for e in audit if e["action"].startswith("hook:")}
    assert set(hooks) == {"hook:deprioritize", "hook:remove", "hook:pause_warmup"}
    assert len([e for e in audit if e["action"].startswith("hook:")]) == 3
    for name, ip, pool in (
        ("deprioritize", "10.5.0.12", "prod"),
        ("remove", "10.5.0.20", "prod"),
        ("pause_warmup", "10.5.1.20", "ramp"),
    ):
        e = hooks[f"hook:{name}"]
        assert (e["actor"], e["ip"], e["pool"], e["reason"]) == ("hook", ip, pool, "ok"), e
        assert e["detail"]["ok"] is True and e["detail"]["returncode"] == 0
        assert e["detail"]["argv"][-4:] == by_action[name]
    # The hold happened (audited) but ran no hook: it is not in the hook's ``on`` list.
    assert ("hold_warmup", "10.5.1.12") in {(e["action"], e["ip"]) for e in audit}
    assert ep.stop() == 0
