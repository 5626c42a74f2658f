"""Opening the database: async engine, SQLite pragmas, file mode, migrations.

Migrations are a small versioned-DDL runner rather than Alembic: the schema is owned by
this one application, upgrades run at open time with no separate tool or ini file for an
operator to carry, and each step is a plain function of a sync connection, so the same
steps run on SQLite and PostgreSQL. ``schema_version`` records what has been applied; a
database newer than the code is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from opsconsole.core import redact
from opsconsole.core.errors import first_line
from opsconsole.storage import migrations

BUSY_TIMEOUT_MS = 10_000
# pg_advisory_xact_lock key serialising migrations across processes on one PostgreSQL
# database (an arbitrary constant: int.from_bytes(b"opsmigr", "big")).
PG_MIGRATION_LOCK = 0x6F70736D696772
PG_SETUP_LOCK = 0x6F707373657475  # b"opssetu": apply_config at engine start


class DatabaseError(Exception):
    """The database cannot be opened or is of an unknown (newer) schema: exit code 3."""


def sqlite_path(url: str) -> Path | None:
    path = redact.sqlite_path(url)
    return None if path is None else Path(path)


def display_url(url: str) -> str:
    """``url`` fit for a message: the password (if any) as ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"


def _scrub(text_: str, url: str) -> str:
    """``text_`` with ``url``'s password, should a driver message quote it, as ``***``."""
    try:
        password = make_url(url).password
    except Exception:
        return text_
    return text_.replace(str(password), "***") if password else text_


def _prepare_sqlite_file(path: Path) -> None:
    """Create the file (and its folder) private to the user before SQLite touches it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
    except OSError as e:
        raise DatabaseError(f"cannot create database {path}: {e.strerror}") from None


def _on_sqlite_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str, *, create: bool = True) -> AsyncEngine:
    """``create=False``: a SQLite file that does not exist is a DatabaseError and nothing
    (no folder, no file) is made: a read-only command never creates a database."""
    if (why := redact.not_a_url(url)) is not None:
        raise DatabaseError(why)
    path = sqlite_path(url)
    if path is not None:
        if create:
            _prepare_sqlite_file(path)
        elif not path.is_file():
            raise DatabaseError(
                f"no database at {path}: nothing has been ingested there"
                " (check --db; ingest or the engine creates it)"
            )
    try:
        engine = create_async_engine(
            _no_create(url) if path is not None else url, pool_pre_ping=path is None
        )
    except Exception as e:  # unknown dialect, missing driver
        reason = _scrub(first_line(e), url)
        raise DatabaseError(f"cannot use database URL {display_url(url)!r}: {reason}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    return engine


def _no_create(url: str) -> str | URL:
    """``url`` opening its SQLite file read-write but never creating it (a URI filename
    with ``mode=rw``): the file exists by now (made above, or checked), and a pooled
    connection opened after someone deleted it must fail, not start a new empty database
    that the engine would then write on as if nothing had happened."""
    from urllib.parse import quote

    u = make_url(url)
    if u.database is None or u.query.get("uri") or u.database.startswith("file:"):
        return url  # the operator's own URI filename: theirs to say
    name = "file:" + quote(os.path.abspath(u.database), safe="/")
    return u.set(database=name, query={**u.query, "mode": "rw", "uri": "true"})


# --- migrations ---------------------------------------------------------------------------


MIGRATIONS = migrations.steps()


def applied_versions(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("schema_version"):
        return set()
    return {int(v) for (v,) in conn.execute(text("SELECT version FROM schema_version"))}


def current_version(conn: Connection) -> int:
    return max(applied_versions(conn), default=0)


def pending_steps(conn: Connection) -> list[migrations.Step]:
    """Steps not applied yet, in order; DatabaseError when the database has steps this
    code does not know (it is newer than this opsconsole)."""
    applied = applied_versions(conn)
    known = {v for v, _ in MIGRATIONS}
    unknown = sorted(applied - known)
    if unknown:
        raise DatabaseError(
            f"database schema version {max(unknown)} is newer than this opsconsole"
            f" ({MIGRATIONS[-1][0]}): upgrade it"
        )
    return [(v, step) for v, step in MIGRATIONS if v not in applied]


def migrate(conn: Connection) -> int:
    """Apply every step the database lacks (refusing a database newer than the code);
    return the resulting version."""
    for version, step in pending_steps(conn):
        step(conn)
        conn.execute(
            text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"),
            {"v": version, "t": time.time()},
        )
    return current_version(conn)


async def open_database(url: str, *, create: bool = True) -> AsyncEngine:
    """Engine with the schema migrated to the current version; DatabaseError otherwise."""
    engine = make_engine(url, create=create)
    try:
        async with engine.connect() as conn:
            # Check-then-create under the write lock: processes opening a new database at
            # once must not both run a migration step. A current schema needs no lock, so
            # reading (status, report, a follower) never waits for a writer.
            # On PostgreSQL the same lock is a transaction-scoped advisory lock; migrate()
            # then re-reads what is applied, seeing what a process that held it committed.
            if len(await conn.run_sync(pending_steps)) > 0:
                if engine.dialect.name == "sqlite":
                    await conn.rollback()
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                elif engine.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK}
                    )
            await conn.run_sync(migrate)
            await conn.commit()
    except DatabaseError:
        await engine.dispose()
        raise
    except Exception as e:
        await engine.dispose()
        reason = _scrub(first_line(e), url)
        raise DatabaseError(f"cannot open database {display_url(url)}: {reason}") from None
    return engine


@contextlib.asynccontextmanager
async def serialized_begin(
    engine: AsyncEngine, pg_lock: int = PG_SETUP_LOCK
) -> AsyncIterator[AsyncConnection]:
    """A transaction holding a write lock from its first statement, so a check-then-insert
    inside it (engines starting at once, each creating the config's pools) runs one process
    at a time and sees what the previous one committed: ``BEGIN IMMEDIATE`` on SQLite, a
    transaction-scoped advisory lock on PostgreSQL. Commits on success."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": pg_lock})
        yield conn
        await conn.commit()
