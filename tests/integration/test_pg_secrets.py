"""A PostgreSQL password never shows in what opsconsole prints: not when the database is
missing, not when the password is wrong, not when the server is unreachable, not in the
engine's log when all is well."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers.pg import PgCluster

SECRET = "S3cret-" + uuid.uuid4().hex[:12]
COMMANDS = (
    ("status", "--json"),
    ("report", "-f", "json"),
    ("--no-ui", "--once"),
    ("--no-ui", "--once", "--log-format", "json"),
)


@pytest.fixture
def role(pg_cluster: PgCluster) -> tuple[str, str]:
    """A login role with SECRET as its password, owning a new database: (role, dbname)."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    pg_cluster.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{SECRET}'")
    db = pg_cluster.create_database()
    pg_cluster.psql(f"ALTER DATABASE {db} OWNER TO {name}")
    pg_cluster.psql(f"GRANT ALL ON SCHEMA public TO {name}", dbname=db)
    yield name, db
    pg_cluster.drop_database(db)
    pg_cluster.psql(f"DROP ROLE {name}")


def run(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[monitor]\ncheck_interval = "1s"\n')
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", "--db", url, "--config", str(cfg), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a).strip("-"))
def test_password_never_printed(
    tmp_path: Path, pg_cluster: PgCluster, role: tuple[str, str], args: tuple[str, ...]
) -> None:
    user, db = role
    port = pg_cluster.port
    good = f"postgresql+asyncpg://{user}:{SECRET}@127.0.0.1:{port}/{db}"
    failing = {
        "no such database": f"postgresql+asyncpg://{user}:{SECRET}@127.0.0.1:{port}/nosuch_db",
        "wrong password": f"postgresql+asyncpg://{user}:{SECRET}x@127.0.0.1:{port}/{db}",
        "unreachable": f"postgresql+asyncpg://{user}:{SECRET}@127.0.0.1:1/{db}",
    }
    for what, url in failing.items():
        res = run(tmp_path, url, *args)
        out = res.stdout + res.stderr
        assert res.returncode == 3, f"{what}: exit {res.returncode}: {out}"
        assert SECRET not in out, f"{what}: the password is printed: {out}"
        assert len(res.stderr.strip().splitlines()) == 1, f"{what}: {res.stderr}"
    res = run(tmp_path, good, *args)
    # status on a database no engine has run on: degraded, exit 1 (issue 13.5)
    assert res.returncode == (1 if args[0] == "status" else 0), res.stderr
    assert SECRET not in res.stdout + res.stderr
