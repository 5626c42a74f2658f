"""Isolate every test from the developer's own config and data directories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.pg import PgCluster, PgUnavailable

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "samples"


# --- parallel runs (make test: pytest-xdist, --dist loadgroup) ---------------------------
# Each worker is its own process with its own tmp_path, session fixtures and PostgreSQL
# server. What exists once per machine cannot be split: the real Postfix of tests/e2e owns
# /etc/postfix, the Postfix queue and 127.0.0.2-4 for the session. Every test that uses it
# goes to one worker ("machine"), one after another, as in a serial run.
# A module-scoped fixture (a big generated log, seeded databases) would be built again in
# every worker that runs one of its tests: the tests using one go to one worker too.
# One group per test at most: xdist joins several names into a new group of their own.
MACHINE_GROUP = "machine"
MACHINE_FIXTURES = frozenset({"postfix_testbed"})


def _uses_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("e2e") or fixtures & MACHINE_FIXTURES:
            item.add_marker(pytest.mark.xdist_group(MACHINE_GROUP))
        elif _uses_module_fixture(item):
            module = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(f"module:{module}"))


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in (
        "OPSCONSOLE_CONFIG",
        "OPSCONSOLE_DB",
        "BOUNCE_WARNING_THRESHOLD",
        "BOUNCE_CRITICAL_THRESHOLD",
        "BOUNCE_BLOCK_THRESHOLD",
        "BOUNCE_ALERT_WEBHOOK_URL",
    ):
        monkeypatch.delenv(var, raising=False)


# --- the database under test: SQLite, or PostgreSQL where a test is parametrized -------
# tests/integration/conftest.py parametrizes ``db_backend`` (ids sqlite, postgres) for every
# test there that asks for ``db_url`` or ``harness`` and is not marked ``sqlite_only``;
# everywhere else ``db_backend`` is "sqlite" with no parametrization (node ids unchanged).


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL server for the session, started on first use."""
    try:
        import asyncpg  # noqa: F401

        cluster = PgCluster()
    except (ImportError, PgUnavailable) as e:
        reason = (
            f"PostgreSQL tests: {e}"
            if isinstance(e, PgUnavailable)
            else ("PostgreSQL tests: asyncpg is not installed (pip install -e '.[test]')")
        )
        if os.environ.get("OPSCONSOLE_REQUIRE_PG") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new empty database: a SQLite file in ``tmp_path`` or a fresh PostgreSQL database."""
    if db_backend == "postgres":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        with cluster.database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.exists():
        pytest.skip(f"shared samples not found at {SAMPLES}")
    return SAMPLES
