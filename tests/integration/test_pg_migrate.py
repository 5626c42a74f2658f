"""A fleet opening one NEW PostgreSQL database at once: the migration runs exactly once
(advisory lock + re-check in storage/db.py), and every event is counted exactly once.

Three ``opsconsole ingest`` processes, each with its own simulated PowerMTA log, plus two
more on the first log (checkpoint compare-and-swap), all started together on an empty
database. The buckets must equal the sum of the three truth files, exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from opsconsole.storage.db import MIGRATIONS
from tests.helpers.db import rows
from tests.helpers.pg import PgCluster

KINDS = ("delivered", "bounced", "hard", "deferred")


def simulate(tmp_path: Path, seed: int, events: int) -> tuple[Path, dict]:
    out, truth = tmp_path / f"acct-{seed}.csv", tmp_path / f"truth-{seed}.json"
    subprocess.run(
        [sys.executable, "-m", "opsconsole", "simulate", "--format", "pmta", "--out", str(out),
         "--events", str(events), "--seed", str(seed), "--truth", str(truth), "--hours", "6"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return out, json.loads(truth.read_text())


def ingest_cmd(db: str, log: Path, ip_map: dict[str, str]) -> list[str]:
    cmd = [sys.executable, "-m", "opsconsole", "--db", db, "ingest", str(log), "--format", "pmta"]
    for name, ip in ip_map.items():
        cmd += ["--ip-map", f"{name}={ip}"]
    return cmd


@pytest.mark.slow
def test_five_ingests_open_a_new_database_at_once(tmp_path: Path, pg_cluster: PgCluster) -> None:
    logs = [simulate(tmp_path, seed, 20_000 + 5_000 * seed) for seed in (1, 2, 3)]
    expected: dict[str, Counter[str]] = {}
    for _, truth in logs:
        for ip, c in truth["per_ip"].items():
            expected.setdefault(ip, Counter()).update({k: c[k] for k in KINDS})
    with pg_cluster.database() as db:
        cmds = [ingest_cmd(db, log, truth["ip_map"]) for log, truth in logs]
        cmds += [cmds[0], cmds[0]]  # two more readers of the first file
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cmds]
        for p in procs:
            _out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err.decode()
        got = {
            ip: Counter(dict(zip(KINDS, (int(v) for v in vals), strict=True)))
            for ip, *vals in rows(
                db,
                "SELECT ip, sum(delivered), sum(bounced), sum(hard), sum(deferred)"
                " FROM bucket WHERE ip != '' GROUP BY ip",
            )
        }
        assert {ip: +c for ip, c in got.items() if +c} == {
            ip: +c for ip, c in expected.items() if +c
        }
        versions = [v for (v,) in rows(db, "SELECT version FROM schema_version")]
        assert sorted(versions) == [v for v, _ in MIGRATIONS]  # each step applied once
