"""Issue 10.5: a mistake at ingest can be undone without deleting the database.

* a wrong ``--format``: exit 2 with a hint ("looks like postfix"), nothing recorded, so
  the same command with the right format then gives exact numbers;
* ``--format auto`` reads each file in the format it is in;
* names without an IP (vmta, syslog name) are listed with their counts and the flag that
  would map them (exit 0: the rest was read).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PY = sys.executable


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "opsconsole", *args], capture_output=True, text=True, timeout=120, check=False
    )


def simulate(tmp_path: Path, fmt: str, *extra: str) -> tuple[Path, dict[str, object]]:
    out, truth = tmp_path / f"t.{fmt}", tmp_path / f"t.{fmt}.json"
    r = run("simulate", "--format", fmt, "--out", str(out), "--events", "3000",
            "--seed", "11", "--truth", str(truth), *extra)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out, json.loads(truth.read_text())


def attributed(truth: dict[str, object]) -> dict[str, int]:
    """The truth's counts over its attributed IPs (what the report's ips hold)."""
    per_ip = truth["per_ip"]
    assert isinstance(per_ip, dict)
    return {
        "sent": sum(c["delivered"] + c["bounced"] for c in per_ip.values()),
        "deferred": sum(c["deferred"] for c in per_ip.values()),
    }


def totals(db: str) -> dict[str, int]:
    rep = json.loads(run("--db", db, "report", "--format", "json", "--window", "30d").stdout)
    out = {"sent": 0, "deferred": 0, "complaints": 0}
    for r in rep["ips"]:
        for k in out:
            out[k] += r[k]
    u = rep["unattributed"]
    out["unattributed"] = u["delivered"] + u["bounced"] + u["deferred"] + u["complaints"]
    out["sources"] = len(rep["ingest"]["sources"])
    return out


@pytest.fixture(params=["fast", "lines"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both PowerMTA paths of ``ingest``: the columnar backlog parser and the line parser
    (the CLI subprocesses inherit the switch)."""
    monkeypatch.setenv("OPSCONSOLE_INGEST_FAST", "1" if request.param == "fast" else "0")
    return str(request.param)


@pytest.mark.usefixtures("ingest_path")
def test_wrong_format_is_refused_and_the_right_one_is_exact(tmp_path: Path) -> None:
    log, truth = simulate(tmp_path, "postfix")
    db = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    wrong = run("--db", db, "ingest", str(log), "--format", "pmta")
    assert wrong.returncode == 2
    assert "looks like postfix (--format postfix)" in wrong.stderr
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w.db").exists()  # nothing recorded: not even a database
    ip_map = [f"--ip-map={k}={v}" for k, v in dict(truth["ip_map"]).items()]  # type: ignore[arg-type]
    right = run("--db", db, "ingest", str(log), "--format", "postfix", *ip_map)
    assert right.returncode == 0, right.stderr
    got = totals(db)
    assert {k: got[k] for k in ("sent", "deferred")} == attributed(truth)


@pytest.mark.usefixtures("ingest_path")
def test_auto_detects_each_format(tmp_path: Path) -> None:
    for fmt in ("pmta", "postfix", "kumo", "jsonl"):
        log, truth = simulate(tmp_path, fmt)
        db = f"sqlite+aiosqlite:///{tmp_path / (fmt + '.db')}"
        ip_map = [f"--ip-map={k}={v}" for k, v in dict(truth["ip_map"]).items()]  # type: ignore[arg-type]
        r = run("--db", db, "ingest", str(log), "--format", "auto", *ip_map)
        assert r.returncode == 0, (fmt, r.stderr)
        assert totals(db)["sent"] == attributed(truth)["sent"], fmt


def test_unmapped_names_are_listed_with_the_flag_that_maps_them(tmp_path: Path) -> None:
    log, truth = simulate(tmp_path, "postfix")
    db = f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"
    r = run("--db", db, "ingest", str(log), "--format", "postfix")  # no --ip-map at all
    assert r.returncode == 0
    names = dict(truth["ip_map"])  # type: ignore[arg-type]
    assert "unattributed events of names with no IP" in r.stderr
    assert any(f"--ip-map {name}=IP" in r.stderr for name in names), r.stderr
    assert totals(db)["unattributed"] > 0
