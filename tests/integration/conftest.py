"""A harness for the engine acceptance tests (issue 3): the REAL program in subprocesses.

Engines run as ``python -m opsconsole --no-ui --log-format json`` (so SIGTERM and kill -9
are real signals to a real process), control commands and reports as one-shot CLI
subprocesses, all against one database: a SQLite file in ``tmp_path`` or a fresh PostgreSQL
database (every test here asking for ``harness`` or ``db_url`` runs on both, ids ``sqlite``
and ``postgres``, unless marked ``sqlite_only``). Traffic is the project's JSONL,
written as whole new files (temp name + rename) into a folder the config follows with a
glob, so the engine never sees half a write. Nothing is mocked; waits poll with deadlines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from opsconsole.storage.db import sqlite_path
from tests.helpers.db import rows as db_rows
from tests.helpers.waiting import wait_for

T = TypeVar("T")
PY = sys.executable
BACKENDS = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test here that uses a database on SQLite and PostgreSQL."""
    names = metafunc.fixturenames
    if "db_backend" in names and not metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("db_backend", BACKENDS, ids=BACKENDS, indirect=True)


def wait_until(
    pred: Callable[[], T | None],
    timeout: float,
    what: str,
    poll: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> T:
    """``pred()``'s first truthy value, polling until ``timeout`` seconds have passed."""
    return wait_for(pred, what, timeout, poll, explain)


def traffic(
    ip: str,
    sent: int,
    bounced: int,
    *,
    start: float | None = None,
    span: float = 240.0,
    status: str = "5.7.1",
) -> list[dict[str, Any]]:
    """``sent`` final outcomes for ``ip`` (``bounced`` of them bounces), spread evenly over
    ``span`` seconds from ``start`` (default: ``span + 30`` s ago, well inside a 1h window)."""
    start = time.time() - span - 30 if start is None else start
    step = span / max(1, sent)
    rows = []
    for i in range(sent):
        bounce = i * bounced // sent != (i + 1) * bounced // sent  # bounces spread evenly
        row: dict[str, Any] = {"ts": round(start + i * step, 3), "ip": ip}
        if bounce:
            row.update(kind="bounced", status=status, diag=f"550 {status} blocked")
        else:
            row.update(kind="delivered", status="2.0.0")
        rows.append(row)
    return rows


@dataclass
class EngineProc:
    """One headless engine subprocess; its JSON log lines are read from a file."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    out_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> list[dict[str, Any]]:
        out = []
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"msg": line, "raw": True})
        return out

    def ticks(self) -> list[dict[str, Any]]:
        return [r for r in self.log() if r.get("event") == "tick"]

    def actions(self) -> list[dict[str, Any]]:
        return [r for r in self.log() if r.get("event") == "action"]

    def roles(self) -> list[str]:
        """The roles this engine logged taking, in order ("follower", "leader")."""
        return [r["role"] for r in self.log() if r.get("event") == "role"]

    def checks(self) -> int:
        return sum(1 for t in self.ticks() if t.get("checked"))

    def says(self, fragment: str) -> bool:
        return any(fragment in str(r.get("msg", "")) for r in self.log())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.alive():
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def describe(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        except FileNotFoundError:
            return "(no log)"


@dataclass
class Harness:
    """Config, traffic, engines and CLI calls for one test, all under ``root``."""

    root: Path
    db: str = ""
    procs: list[EngineProc] = field(default_factory=list)
    _files: int = 0

    # The module's helpers, for test modules (which import nothing from a conftest).
    wait_until = staticmethod(wait_until)
    traffic = staticmethod(traffic)

    def __post_init__(self) -> None:
        self.db = self.db or f"sqlite+aiosqlite:///{self.root / 'ops.db'}"
        self.db_path = sqlite_path(self.db) or self.root / "ops.db"
        self.traffic_dir = self.root / "traffic"
        self.traffic_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.root / "config.toml"

    # --- setup --------------------------------------------------------------------------

    def write_config(self, body: str = "", *, monitor: str = "") -> Path:
        """``[monitor]`` at a 1 s check interval (plus ``monitor`` lines), the traffic
        folder as a followed jsonl source, then ``body`` (pools, warmups, notify ...)."""
        text = (
            f'db = "{self.db}"\n\n'
            "[monitor]\n"
            'check_interval = "1s"\n'
            f"{monitor}\n\n"
            "[[sources]]\n"
            'name = "mta"\n'
            'format = "jsonl"\n'
            f'path = "{self.traffic_dir}/traffic-*.jsonl"\n\n'
            f"{body}\n"
        )
        self.config_path.write_text(text, encoding="utf-8")
        return self.config_path

    def write_traffic(self, rows: Iterable[dict[str, Any]]) -> int:
        """A new traffic file, appearing whole (renamed into place); returns its event count."""
        self._files += 1
        lines = [json.dumps(r) for r in rows]
        tmp = self.traffic_dir / f".partial-{self._files}"
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, self.traffic_dir / f"traffic-{self._files:04d}.jsonl")
        return len(lines)

    # --- the program --------------------------------------------------------------------

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 30.0, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [PY, "-m", "opsconsole", "--config", str(self.config_path), *args]
        res = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            cwd=self.root,
        )
        if ok and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {res.returncode}\nstdout: {res.stdout}\n"
                f"stderr: {res.stderr}"
            )
        return res

    def report(self) -> dict[str, Any]:
        return json.loads(self.cli("report", "--format", "json").stdout)

    def status(self) -> dict[str, Any]:
        # status exits 0 healthy, 1 degraded or unhealthy (issue 13.5): both are answers.
        res = self.cli("status", "--json", ok=False)
        assert res.returncode in (0, 1), f"status exited {res.returncode}: {res.stderr}"
        return dict(json.loads(res.stdout))

    def audit(self) -> list[dict[str, Any]]:
        return json.loads(self.cli("audit", "--json").stdout)

    def start_engine(self, *extra: str, name: str | None = None) -> EngineProc:
        name = name or f"engine{len(self.procs) + 1}"
        log_path = self.root / f"{name}.log"
        out_path = self.root / f"{name}.out"
        cmd = [PY, "-m", "opsconsole", "--config", str(self.config_path), "--no-ui"]
        cmd += ["--log-format", "json", *extra]
        with log_path.open("wb") as err, out_path.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=self.root, env=os.environ)
        ep = EngineProc(proc, log_path, out_path)
        self.procs.append(ep)
        return ep

    # --- the database, read directly ------------------------------------------------------

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows (``r[0]``, ``dict(r)``) of one query with ``?`` placeholders, either backend."""
        return db_rows(self.db, query, params)

    def lease(self) -> dict[str, Any] | None:
        rows = self.sql("SELECT * FROM lease WHERE name = 'engine'")
        return dict(rows[0]) if rows else None

    def leader_pid(self) -> int | None:
        """The pid of the engine holding an unexpired lease, if any."""
        lease = self.lease()
        if lease is None or lease["expires_at"] <= time.time():
            return None
        return int(lease["pid"])

    def member_row(self, pool: str, ip: str) -> dict[str, Any] | None:
        rows = self.sql("SELECT * FROM pool_member WHERE pool = ? AND ip = ?", (pool, ip))
        return dict(rows[0]) if rows else None

    def plan_state(self, ip: str) -> str | None:
        rows = self.sql("SELECT state FROM warmup_plan WHERE ip = ?", (ip,))
        return str(rows[0][0]) if rows else None

    def totals(self) -> dict[str, int]:
        """Events counted in the buckets, by kind, over all time."""
        row = self.sql(
            "SELECT coalesce(sum(delivered), 0), coalesce(sum(bounced), 0),"
            " coalesce(sum(deferred), 0), coalesce(sum(complaints), 0) FROM bucket"
        )
        d, b, df, c = (int(v) for v in row[0]) if row else (0, 0, 0, 0)
        return {"delivered": d, "bounced": b, "deferred": df, "complaints": c}

    def wait_for_leader(self, ep: EngineProc, timeout: float = 10.0) -> None:
        def leads() -> bool:
            if not ep.alive():
                raise AssertionError(f"engine exited {ep.proc.returncode}:\n{ep.describe()}")
            return self.leader_pid() == ep.pid

        wait_until(leads, timeout, f"engine {ep.pid} to take the lease")

    def wait_checks(self, ep: EngineProc, n: int, timeout: float = 10.0) -> None:
        """Wait until ``ep`` has run ``n`` more checks than it has now."""
        target = ep.checks() + n
        wait_until(lambda: ep.checks() >= target, timeout, f"{n} more checks by {ep.pid}")

    # --- reading a report ------------------------------------------------------------------

    @staticmethod
    def member(report: dict[str, Any], pool: str, ip: str) -> dict[str, Any]:
        for p in report["pools"]:
            if p["name"] == pool:
                for m in p["members"]:
                    if m["ip"] == ip:
                        return dict(m)
        raise AssertionError(f"{ip} not in pool {pool}: {report['pools']}")

    @staticmethod
    def plan(report: dict[str, Any], ip: str) -> dict[str, Any]:
        for w in report["warmups"]:
            if w["ip"] == ip:
                return dict(w)
        raise AssertionError(f"no warmup for {ip}: {report['warmups']}")

    @staticmethod
    def alerts_of(
        report: dict[str, Any], ip: str, rule: str = "bounce_rate"
    ) -> list[dict[str, Any]]:
        return [a for a in report["alerts"] if a["ip"] == ip and a["rule"] == rule]

    def close(self) -> None:
        for ep in self.procs:
            if ep.alive():
                ep.proc.kill()
                ep.proc.wait(5)


@pytest.fixture
def harness(tmp_path: Path, db_url: str) -> Iterator[Harness]:
    h = Harness(tmp_path, db_url)
    try:
        yield h
    finally:
        h.close()
