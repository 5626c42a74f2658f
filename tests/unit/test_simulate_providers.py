"""The simulator's provider dimension: per-(ip, provider) truth, spec 11's split scenario,
and the demo's IP blocked at microsoft only."""

from __future__ import annotations

from pathlib import Path

from opsconsole.core.providers import ProviderTable
from opsconsole.core.sources.jsonl import JsonlParser
from opsconsole.simulator import generate_events
from opsconsole.simulator.render import write_file
from opsconsole.simulator.scenario import Scenario
from opsconsole.simulator.truth import Truth

T0 = 1_767_225_600.0


def rates(truth: Truth, ip: str) -> dict[str, float]:
    out: dict[str, list[int]] = {}
    for (i, _sub, prov), c in truth.per_provider().items():
        if i == ip:
            s = out.setdefault(prov, [0, 0])
            s[0] += c.delivered + c.bounced
            s[1] += c.bounced
    return {p: b / n for p, (n, b) in out.items() if n}


def test_split_scenario_truth_is_exact(tmp_path: Path) -> None:
    sc = Scenario.provider_split("203.0.113.4", "203.0.113.5")
    path = tmp_path / "ev.jsonl"
    truth = write_file(
        "jsonl", str(path), generate_events(sc, 20000, T0, T0 + 3600.0, 3), scenario=sc
    )
    # Independent count: parse the file back, attribute by the table.
    table = ProviderTable()
    parser = JsonlParser(now=lambda: T0 + 3600.0)
    got: dict[tuple[str, str], int] = {}
    for ev in parser.feed(path.read_text().splitlines()):
        key = (ev.ip or "", table.provider_of(ev.rcpt_domain or ""))
        got[key] = got.get(key, 0) + 1
    want: dict[tuple[str, str], int] = {}
    for (ip, _sub, prov), c in truth.per_provider().items():
        assert ip is not None
        n = c.delivered + c.bounced + c.deferred + c.complaints
        want[(ip, prov)] = want.get((ip, prov), 0) + n
    assert got == want
    a, b = rates(truth, "203.0.113.4"), rates(truth, "203.0.113.5")
    assert 0.35 < a["microsoft"] < 0.45
    assert all(r < 0.03 for p, r in a.items() if p != "microsoft")
    assert all(0.15 < r < 0.25 for r in b.values())
    rows = truth.as_dict()["per_provider"]
    assert {r["provider"] for r in rows} >= {"microsoft", "google", "yahoo", "other"}


def test_demo_ip_blocked_at_microsoft_only(tmp_path: Path) -> None:
    sc = Scenario.default().with_provider_block("203.0.113.1", "microsoft", 0.30)
    truth = write_file(
        "jsonl", str(tmp_path / "d.jsonl"), generate_events(sc, 40000, 0.0, 3600.0, 7),
        scenario=sc,
    )  # fmt: skip
    r = rates(truth, "203.0.113.1")
    assert r["microsoft"] > 0.25
    assert all(v < 0.04 for p, v in r.items() if p != "microsoft")
    # Nobody else changed.
    assert sc.profile("203.0.113.2") == Scenario.default().profile("203.0.113.2")
