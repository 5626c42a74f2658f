"""CLI conventions, validation, deletion, secrets, read-only opens and config values that
used to pass ``config check`` and break at run time (issues 17.2-17.6, 18.6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = [sys.executable, "-m", "opsconsole"]


def run(*args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    if db:
        env["OPSCONSOLE_DB"] = db
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=60, env=env)


def one_line(r: subprocess.CompletedProcess[str], code: int) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("opsconsole: "), r.stderr
    return lines[0]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"


def test_version_and_completion() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == "opsconsole 0.1.0"
    h = run("--help").stdout
    assert "--install-completion" in h and "--show-completion" in h


def test_usage_error_is_one_line_exit_2() -> None:
    line = one_line(run("alerts", "list", "--bogus"), 2)
    assert "--bogus" in line and "opsconsole alerts list --help" in line
    assert "╭" not in line


def test_help_has_no_python_type_names() -> None:
    for cmd in (["ingest"], ["pools", "weight"], ["alerts", "list"], ["report"], ["audit"]):
        h = run(*cmd, "--help").stdout
        assert "<" not in h and "list[str]" not in h and "range>" not in h, (cmd, h)


def test_ingest_refuses_what_it_cannot_resume(db: str, tmp_path: Path) -> None:
    """A device or pipe has no position to checkpoint: refused before anything is read
    (it used to print "read 0 lines" and exit 1)."""
    assert "not a regular file: /dev/null" in one_line(
        run("ingest", "/dev/null", "--format", "postfix", db=db), 2
    )
    assert "is a directory" in one_line(run("ingest", str(tmp_path), "-f", "pmta", db=db), 2)


def test_a_plain_sqlite_url_is_opened_with_the_async_driver(tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    log.write_text("")
    r = run("--db", f"sqlite:///{tmp_path / 'p.db'}", "ingest", str(log), "-f", "postfix")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p.db").exists()


def test_bad_ips_and_unknown_pools_are_refused(db: str) -> None:
    assert "not an IP address" in one_line(run("pools", "add", "bulk", "not-an-ip", db=db), 2)
    assert "not an IP address" in one_line(run("warmup", "start", "999.9.9.9", db=db), 2)
    assert "--create" in one_line(run("pools", "add", "bulk", "192.0.2.1", db=db), 2)
    assert run("pools", "add", "bulk", "192.0.2.1", "--create", db=db).returncode == 0
    assert "--create" in one_line(run("warmup", "start", "192.0.2.9", "--pool", "blk", db=db), 2)
    pools = json.loads(run("pools", "list", "--format", "json", db=db).stdout)
    assert [p["name"] for p in pools] == ["bulk"]


def test_silence_refuses_an_unknown_rule_and_lists_the_known(db: str) -> None:
    line = one_line(
        run("alerts", "silence", "192.0.2.1", "--for", "1h", "--rule", "bogus", db=db), 2
    )
    assert "bounce_rate" in line and "source_stale" in line


def test_pools_delete_and_warmup_cancel_are_audited(db: str) -> None:
    assert run("pools", "add", "bulk", "192.0.2.1", "--create", db=db).returncode == 0
    assert run("warmup", "start", "192.0.2.2", "--pool", "bulk", db=db).returncode == 0
    assert "--force" in one_line(run("pools", "delete", "bulk", db=db), 2)
    r = run("warmup", "cancel", "192.0.2.2", "--reason", "returned", db=db)
    assert r.returncode == 0 and "cancelled" in r.stdout, r.stderr
    assert json.loads(run("warmup", "list", "--format", "json", db=db).stdout) == []
    assert run("pools", "delete", "bulk", "--force", db=db).returncode == 0
    assert json.loads(run("pools", "list", "--format", "json", db=db).stdout) == []
    audit = json.loads(run("audit", "--since", "1h", "--format", "json", db=db).stdout)
    assert [a["action"] for a in audit][:2] == ["pool_delete", "cancel_warmup"]
    assert "returned" in audit[1]["reason"]
    assert "no pool" in one_line(run("pools", "delete", "bulk", db=db), 2)


def test_audit_since_accepts_durations_and_iso(db: str) -> None:
    assert run("pools", "add", "p", "192.0.2.1", "--create", db=db).returncode == 0
    assert len(json.loads(run("audit", "--since", "1h", "--format", "json", db=db).stdout)) == 1
    future = run("audit", "--since", "2999-01-01", "--format", "json", db=db)
    assert json.loads(future.stdout) == []
    one_line(run("audit", "--since", "yesterday-ish", db=db), 2)


def test_a_password_in_db_is_never_printed() -> None:
    url = "postgresql+asyncpg://opsuser:s3cretPW@127.0.0.1:1/ops"
    for cmd in (["status"], ["report"], ["pools", "list"], ["alerts", "list"]):
        r = run("--db", url, *cmd)
        assert r.returncode in (1, 3), r.stderr
        assert "s3cretPW" not in r.stderr + r.stdout, r.stderr


def test_read_only_commands_create_no_database(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    url = f"sqlite+aiosqlite:///{missing}"
    for cmd in (["status"], ["report"], ["check", "192.0.2.1"], ["pools", "list"],
                ["alerts", "list"], ["audit"], ["warmup", "list"]):  # fmt: skip
        line = one_line(run("--db", url, *cmd), 3)
        assert str(missing) in line
    assert not (tmp_path / "nonexistent").exists()
    assert run("--db", url, "pools", "add", "p", "192.0.2.1", "--create").returncode == 0
    assert missing.exists()  # an operator command (a write) still creates it


def test_status_says_what_is_wrong_first(db: str) -> None:
    assert run("pools", "add", "p", "192.0.2.1", "--create", db=db).returncode == 0
    r = run("status", db=db)
    assert r.returncode == 1  # degraded (issue 13.5 exit codes)
    assert r.stdout.splitlines()[0] == "DEGRADED: no engine holds the lease"


def test_no_traceback_for_bad_windows_or_urls(db: str) -> None:
    assert "too long" in one_line(run("report", "--window", "100000000d", db=db), 2)
    # a value that is no URL at all is bad input (2), not a database that is unreachable (3)
    assert "not a database URL" in one_line(run("--db", "garbage", "status"), 2)


@pytest.mark.parametrize(
    ("toml", "key", "line"),
    [
        ('[monitor]\nwindow = "1h"\ncheck_interval = 0\n', "monitor.check_interval", 3),
        ("[monitor]\nlease_ttl = 0\n", "monitor.lease_ttl", 2),
        ("[monitor]\nwindow = inf\n", "monitor.window", 2),
        ("[monitor]\nstale_after = nan\n", "monitor.stale_after", 2),
        ("[retention]\naudit = inf\n", "retention.audit", 2),
        ('\n[[notify]]\nkind = "webhook"\nurl = "http://127.0.0.1:99999/x"\n', "notify.0.url", 4),
        ('[metrics]\nlisten = "abc"\n', "metrics.listen", 2),
    ],
)
def test_config_check_rejects_values_that_break_at_run_time(
    tmp_path: Path, toml: str, key: str, line: int
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    msg = one_line(run("--config", str(cfg), "config", "check"), 2)
    assert f"{cfg}:{line}: {key}:" in msg, msg
    show = run("--config", str(cfg), "config", "show")
    one_line(show, 2)
    assert "99999" not in show.stderr or "url" in show.stderr
