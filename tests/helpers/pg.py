"""A throwaway PostgreSQL cluster for the test session, from the server binaries on the machine.

``PgCluster.start()`` runs ``initdb`` and ``pg_ctl start`` in a fresh temp dir (as the
``postgres`` user when the tests run as root, since PostgreSQL refuses root), listening on
127.0.0.1 only, on a free port, with its unix socket in the temp dir and durability off
for speed. Auth: trust for the superuser on loopback, scram passwords for other roles.
``database()`` hands each test its own new database (``CREATE DATABASE t_<uuid> TEMPLATE
template0``) and drops it afterwards, killing any connection a test's subprocess left behind.
``stop()`` is ``pg_ctl stop -m immediate``.

``query()`` is a synchronous read for tests (the harness's ``sql()``): asyncpg on a loop of
its own in a worker thread, so it works from sync tests and from inside a running loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
SERVER_OPTS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    " -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
)


class PgUnavailable(Exception):
    """No usable PostgreSQL server binaries (or no way to run them): tests skip with this."""


def find_bindir() -> Path:
    """``$OPSCONSOLE_PG_BINDIR``, else ``pg_config --bindir``, else the newest Debian layout."""
    candidates: list[str] = []
    if env := os.environ.get("OPSCONSOLE_PG_BINDIR"):
        candidates.append(env)
    if shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10
            )
            candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and all((Path(c) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(c)
    raise PgUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL ``postgresql+asyncpg://...`` as a libpq/asyncpg DSN."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def qmark_to_dollar(sql: str) -> str:
    """``?`` placeholders (sqlite3 style, as the tests write them) to ``$1, $2 ...``."""
    out, n = [], 0
    for ch in sql:
        if ch == "?":
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)


def _in_thread(url: str, sql: str, params: Sequence[Any], fetch: bool) -> list[Any]:
    """One statement on a connection of its own, on an event loop of its own in a worker
    thread (so callers may be sync tests or coroutines on a running loop)."""
    import asyncpg

    async def run() -> list[Any]:
        con = await asyncpg.connect(asyncpg_dsn(url), timeout=30)
        try:
            if not fetch:
                await con.execute(sql)
                return []
            return list(await con.fetch(qmark_to_dollar(sql), *params))
        except asyncpg.UndefinedTableError:
            return []
        finally:
            await con.close()

    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["rows"] = asyncio.run(run())
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=worker, name="pg-query")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return list(box["rows"])


def query(url: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Rows (asyncpg Records: ``r[0]``, ``dict(r)``) of one statement with ``?``
    placeholders; [] if a table is missing (the schema is not there yet)."""
    return _in_thread(url, sql, params, fetch=True)


def execute(url: str, sql: str) -> None:
    """Run ``sql`` (several statements allowed, no parameters)."""
    _in_thread(url, sql, (), fetch=False)


class PgCluster:
    """One PostgreSQL server in a temp dir; start once, hand out databases, stop."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="opsconsole-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False
        self.run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise PgUnavailable(
                    "tests run as root and there is no 'postgres' user to run the server"
                ) from None
            if not shutil.which("runuser"):
                raise PgUnavailable("tests run as root and runuser(1) is missing")
            self.run_as = SUPERUSER
            shutil.chown(self.root, SUPERUSER, SUPERUSER)
        self.user = SUPERUSER  # the database superuser name initdb creates (-U)

    # --- running the server's tools -----------------------------------------------------

    def _run(self, tool: str, *args: str, timeout: float = 120.0) -> str:
        cmd = [str(self.bindir / tool), *args]
        if self.run_as is not None:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        res = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "PGTZ": "UTC"},
        )
        if res.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} {' '.join(args)} exited {res.returncode}:\n"
                f"{res.stdout}\n{res.stderr}\n{log}"
            )
        return res.stdout

    def start(self) -> PgCluster:
        self._run(
            "initdb", "-D", str(self.data), "-U", self.user, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        # Trust for the superuser on loopback; every other role must give its password
        # (so the suite can check that a password never shows in a message).
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            f"host all {self.user} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        if self.run_as is not None:
            shutil.chown(hba, self.run_as, self.run_as)
        atexit.register(self.stop)  # even if pytest dies before the fixture's finally
        last: Exception | None = None
        for _ in range(5):  # a free port can be taken between probe and bind: retry
            self.port = _free_port()
            opts = f"{SERVER_OPTS} -c port={self.port} -c unix_socket_directories={self.root}"
            try:
                self._run(
                    "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                    "-l", str(self.log), "-o", opts,
                )  # fmt: skip
            except RuntimeError as e:
                last = e
                continue
            self.started = True
            return self
        raise RuntimeError(f"PostgreSQL did not start: {last}")

    def stop(self) -> None:
        if self.started:
            self.started = False
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases ------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return self._run(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
            "-p", str(self.port), "-U", self.user, "-d", dbname, "-c", sql,
        )  # fmt: skip

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database's SQLAlchemy URL, dropped on exit."""
        name = self.create_database()
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)
