"""Two writers on one file never count a line twice: the checkpoint moves by
compare-and-swap, so the loser of a race rolls its batch back and resumes from the
database's position (an operator's `ingest` while the daemon follows the same file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opsconsole.simulator import Scenario, generate_events, write_file
from tests.helpers.db import rows

START = 1_790_000_000.0


def totals(db: str) -> dict[str, tuple[int, int, int]]:
    got = rows(db, "SELECT ip, sum(delivered), sum(bounced), sum(deferred) FROM bucket GROUP BY ip")
    return {ip: (int(d), int(b), int(df)) for ip, d, b, df in got}


def test_two_concurrent_ingests_of_one_file_count_it_once(tmp_path: Path, db_url: str) -> None:
    scenario = Scenario.default()
    log = tmp_path / "acct.csv"
    truth = write_file(
        "pmta",
        str(log),
        generate_events(scenario, 120_000, START, START + 6 * 3600, seed=3),
        scenario=scenario,
        seed=3,
    )
    db = db_url
    cmd = [sys.executable, "-m", "opsconsole", "--db", db, "ingest",
           str(log), "--format", "pmta"]  # fmt: skip
    for name, ip in scenario.ip_map("pmta").items():
        cmd += ["--ip-map", f"{name}={ip}"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    expected = {
        ip: (c.delivered, c.bounced, c.deferred)
        for ip, c in truth.per_ip.items()
        if c.delivered + c.bounced + c.deferred
    }
    got = totals(db)
    got.pop("", None)
    assert got == expected
