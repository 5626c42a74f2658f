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
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from opsconsole.storage import tables

BUSY_TIMEOUT_MS = 10_000
# pg_advisory_xact_lock key serialising migrations across processes on one PostgreSQL
# database (an arbitrary constant: int.from_bytes(b"opsmigr", "big")).
PG_MIGRATION_LOCK = 0x6F70736D696772
PG_SETUP_LOCK = 0x6F707373657475  # b"opssetu": apply_config at engine start


class DatabaseError(Exception):
    """The database cannot be opened or is of an unknown (newer) schema: exit code 3."""


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


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


def make_engine(url: str) -> AsyncEngine:
    path = sqlite_path(url)
    if path is not None:
        _prepare_sqlite_file(path)
    try:
        engine = create_async_engine(url, pool_pre_ping=path is None)
    except Exception as e:  # unknown dialect, missing driver
        reason = _scrub(str(e), url)
        raise DatabaseError(f"cannot use database URL {display_url(url)!r}: {reason}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    return engine


# --- migrations ---------------------------------------------------------------------------


def _v1(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn, tables=[t.__table__ for t in tables.V1_TABLES])


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _v1)]


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    v = conn.execute(text("SELECT max(version) FROM schema_version")).scalar()
    return int(v or 0)


def migrate(conn: Connection) -> int:
    """Apply every step newer than the database; return the resulting version."""
    have = current_version(conn)
    latest = MIGRATIONS[-1][0]
    if have > latest:
        raise DatabaseError(
            f"database schema version {have} is newer than this opsconsole ({latest}): upgrade it"
        )
    for version, step in MIGRATIONS:
        if version > have:
            step(conn)
            conn.execute(
                text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"),
                {"v": version, "t": time.time()},
            )
    return latest


async def open_database(url: str) -> AsyncEngine:
    """Engine with the schema migrated to the current version; DatabaseError otherwise."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            # Check-then-create under the write lock: processes opening a new database at
            # once must not both run a migration step. A current schema needs no lock, so
            # reading (status, report, a follower) never waits for a writer.
            # On PostgreSQL the same lock is a transaction-scoped advisory lock; migrate()
            # then re-reads the version, seeing what a process that held it committed.
            if await conn.run_sync(current_version) < MIGRATIONS[-1][0]:
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
        reason = str(getattr(e, "orig", None) or e).splitlines()[0]
        reason = _scrub(reason, url)
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
