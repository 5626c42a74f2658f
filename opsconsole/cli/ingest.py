"""``opsconsole ingest``: read MTA output files into the store, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import ipaddress
import os
import signal
import sys
import time
from typing import Annotated

import typer

from opsconsole.cli._common import fail, run_async

HELP = """Read MTA output into per-IP minute buckets. Running it again adds nothing new;
a killed run resumes exactly where its last committed batch ended.

\b
Examples:
  opsconsole ingest /var/log/pmta/acct-2026-03-02.csv --format pmta
  opsconsole ingest /var/log/mail.log --format postfix \\
      --ip-map postfix/out2=203.0.113.2 --ip-map postfix/out3=203.0.113.3
  opsconsole ingest '/var/log/kumomta/*.jsonl' --format kumo --follow
  opsconsole ingest saved-sendgrid-posts.jsonl --format sendgrid
  opsconsole ingest --rescan acct.csv --format pmta --ip-map vmta1=203.0.113.1 --dry-run
"""


def register(app: typer.Typer) -> None:
    app.command("ingest", help=HELP)(ingest)


def parse_ip_map(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, ip = item.partition("=")
        if not sep or not name.strip() or not ip.strip():
            fail(f"--ip-map wants NAME=IP, got {item!r}")
        try:
            ipaddress.ip_address(ip.strip())
        except ValueError:
            fail(f"--ip-map {item!r}: {ip.strip()!r} is not an IP address")
        out[name.strip()] = ip.strip()
    return out


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Files or quoted globs.", metavar="PATH...")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="pmta, postfix, kumo, jsonl, auto; sendgrid, mailgun, ses (saved payloads).",
        ),
    ],
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep tailing across rotation until Ctrl-C.")
    ] = False,
    ip_map: Annotated[
        list[str] | None,
        typer.Option(
            "--ip-map", help="NAME=IP for events with no IP (repeatable).", metavar="NAME=IP"
        ),
    ] = None,
    interval: Annotated[float, typer.Option(help="With --follow: seconds between polls.")] = 1.0,
    internal_relay: Annotated[
        list[str] | None,
        typer.Option(
            "--internal-relay",
            help="Postfix: a relay (host:port) that is a hop into this host (repeatable).",
            metavar="HOST:PORT",
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="The fleet host these files are read on (default: config)."),
    ] = None,
    rescan: Annotated[
        bool,
        typer.Option("--rescan", help="Replace what each FILE contributed with a fresh reading."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --rescan: show before/after, change nothing.")
    ] = False,
    output: Annotated[
        str, typer.Option("--output", "-o", help="With --rescan: table, json or csv.")
    ] = "table",
) -> None:
    from opsconsole.cli._common import settings_from
    from opsconsole.core.sources import INGEST_FORMATS

    if fmt not in (*INGEST_FORMATS, "auto"):
        fail(f"--format must be one of {', '.join(INGEST_FORMATS)} or auto, not {fmt!r}")
    mapping = parse_ip_map(ip_map or [])
    relays = tuple(r.strip() for r in internal_relay or [])
    if any(not r for r in relays):
        fail("--internal-relay wants HOST:PORT (or a transport name), got an empty value")
    if rescan and follow:
        fail("--rescan reads each file once: it cannot be combined with --follow")
    if (dry_run or output != "table") and not rescan:
        fail("--dry-run and --output go with --rescan")
    if output not in ("table", "json", "csv"):
        fail(f"--output must be table, json or csv, not {output!r}")
    specs = []
    for p in paths:
        is_glob = glob.has_magic(p)
        if not is_glob:
            if not os.path.exists(p):
                fail(f"no such file: {p}")
            if os.path.isdir(p):
                fail(f"is a directory: {p} (give files or a quoted glob)")
            if not os.path.isfile(p):  # a pipe or a device has no position to resume from
                fail(f"not a regular file: {p} (write the stream to a file, then ingest it)")
            if not os.access(p, os.R_OK):
                fail(f"cannot read {p}: permission denied")
        elif not follow and not glob.glob(p):
            fail(f"no file matches {p}")
        if rescan and is_glob:
            specs += [(os.path.abspath(f), _format_of(f, fmt)) for f in sorted(glob.glob(p))]
            continue
        specs.append((os.path.abspath(p), _format_of(p, fmt)))
    if host is not None and not host.strip():
        fail("--host wants a host name, got an empty value")
    # Forked first: the worker reads while this process loads its settings and database.
    early = (
        None if rescan or follow or len(specs) != 1 else _early_worker(specs[0], mapping, relays)
    )
    try:
        settings = settings_from(ctx)
        reading_host = host.strip() if host is not None else settings.host
        if rescan:
            code = run_async(
                _rescan, settings.db, specs, mapping, relays, reading_host, dry_run, output
            )
        else:
            code = run_async(
                _ingest, settings.db, specs, fmt, mapping, follow, interval, reading_host,
                relays, early,
            )  # fmt: skip
    finally:
        if early is not None:
            early.close()
    raise typer.Exit(code)


def _early_worker(spec, mapping, relays):  # type: ignore[no-untyped-def]
    """A worker reading the first part of one big file, forked now so that it reads while
    this process loads its settings and opens the database (core/engine/backlog.py); None
    when not worth it."""
    path, fmt = spec
    from opsconsole.core.engine import backlog

    if fmt not in backlog.HOOKS or glob.has_magic(path) or not os.path.isfile(path):
        return None
    from opsconsole.core.aggregate import BatchAggregate
    from opsconsole.core.events import system_clock
    from opsconsole.core.sources import make_parser
    from opsconsole.core.sources.tail import DEFAULT_MAX_LINES

    return backlog.early(
        path, fmt, max_bytes=backlog.BATCH_BYTES, max_lines=DEFAULT_MAX_LINES,
        min_bytes=backlog.MIN_BYTES,
        make_parser=lambda: make_parser(fmt, mapping, now=system_clock, internal_relays=relays),
        make_agg=BatchAggregate, fast=_fast_batch(fmt, path),
    )  # fmt: skip


def _sample(path: str, limit: int = 1 << 20) -> list[str]:
    """The first lines of ``path`` (at most 1 MiB read; an overlong first line is cut)."""
    from opsconsole.core.sources.detect import SAMPLE_LINES

    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    lines = data.decode("utf-8", "replace").splitlines()
    if len(data) == limit and lines:
        lines.pop()  # the last line may be cut by the read limit
    return lines[:SAMPLE_LINES]


def _format_of(spec: str, fmt: str) -> str:
    """The format to read ``spec`` (a file or a glob) with: ``fmt`` unless it is ``auto``;
    exit 2 (nothing read, nothing recorded) when the files cannot be in that format."""
    from opsconsole.core.sources.detect import detect, refuses

    files = sorted(glob.glob(spec)) if glob.has_magic(spec) else [spec]
    found: set[str] = set()
    for path in files:
        lines = _sample(path)
        if fmt == "auto":
            reading = detect(lines, time.time)
            if reading is None:
                if lines:
                    fail(f"{path}: cannot tell its format; give --format")
                continue
            found.add(reading.fmt)
            continue
        why = refuses(fmt, lines, time.time)
        if why is not None:
            fail(f"{path}: {why}; nothing was recorded")
    if fmt != "auto":
        return fmt
    if len(found) > 1:
        fail(f"{spec}: files in several formats ({', '.join(sorted(found))}); give --format")
    if not found:
        fail(f"{spec}: no line to tell the format by; give --format")
    return found.pop()


async def _rescan(db, files, mapping, relays, host, dry_run, output) -> int:  # type: ignore[no-untyped-def]
    from opsconsole.cli import rescan
    from opsconsole.core.sources.reading import params_of
    from opsconsole.storage.db import open_database

    engine = await open_database(db)
    try:
        params = params_of("", mapping, relays)
        return await rescan.run(engine, files, params, host, dry_run, output)
    finally:
        await engine.dispose()


async def _ingest(  # type: ignore[no-untyped-def]
    db, paths, fmt, mapping, follow, interval, host="", relays=(), early=None
) -> int:
    from sqlalchemy.exc import OperationalError

    from opsconsole.core.errors import first_line
    from opsconsole.core.redact import redact_url
    from opsconsole.storage.db import DatabaseError, open_database

    engine = await open_database(db)
    try:
        return await _run_readers(
            engine, paths, fmt, mapping, follow, interval, host, relays, early
        )
    except OperationalError as e:
        # Raw driver errors span lines (SQL, parameters); say what happened in one.
        reason = first_line(e)
        raise DatabaseError(
            f"database {redact_url(db)}: {reason}; committed batches are kept,"
            " run the same command again to resume"
        ) from None
    finally:
        await engine.dispose()


async def _run_readers(  # type: ignore[no-untyped-def]
    engine, paths, fmt, mapping, follow, interval, host="", relays=(), early=None
) -> int:
    from opsconsole.core.engine.reader import SourceReader, SourceSpec, Totals
    from opsconsole.storage.store import SqlStore

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = SqlStore(engine)
    readers = [
        SourceReader(
            store, SourceSpec(p, f, p, mapping, relays, host=host), fast_batch=_fast_batch(f, p)
        )
        for p, f in paths
    ]
    if not follow and any(r.fast_batch is not None for r in readers):
        _backlog_gc()
    for r in readers:
        r.two_cores = not follow  # a backlog may use both cores (core/engine/backlog.py)
        r.early_worker = early
    started = time.monotonic()
    try:
        for r in readers:
            await r.open()
        progress = _Progress(sum(r.pending_bytes() for r in readers))
        with progress:
            for r in readers:
                r.on_batch = _after_batch(progress) if not follow else progress.advance
                await r.poll()
                if stop.is_set():
                    break
            while follow and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
                for r in readers:
                    await r.poll()
        if any(r.totals.events for r in readers):
            await store.analyze()
        total = Totals()
        for r in readers:
            total += r.totals
        secs = time.monotonic() - started
        print(
            f"read {total.lines:,} lines ({total.bytes / 1e6:.1f} MB) in {secs:.1f}s:"
            f" {total.events:,} events, {total.unattributed:,} unattributed,"
            f" {total.malformed:,} malformed, {total.ignored:,} ignored"
            + (f", {total.internal:,} internal hops" if total.internal else "")
            + (f", {total.expired:,} expired notices" if total.expired else "")
        )
        _hint_unmapped(total.unmapped)
        errors = [e for r in readers for e in r.errors.values()]
        for e in errors:
            sys.stderr.write(f"opsconsole: {e}\n")
        return 1 if errors else 0
    finally:
        for r in readers:
            r.close()


def _after_batch(progress: _Progress):  # type: ignore[no-untyped-def]
    """After each commit of a one-shot reading: the progress bar, and the memory the batch
    freed back to the kernel (opsconsole/memory.py)."""
    from opsconsole.memory import trim

    def after(totals, nbytes: int) -> None:  # type: ignore[no-untyped-def]
        progress.advance(totals, nbytes)
        trim()

    return after


FAST_MIN_BYTES = 32 << 20  # below this, importing pyarrow costs more than it saves


def _backlog_gc() -> None:
    """A backlog makes many short-lived tuples (buckets, rows) and no cycles worth a
    collection per 700 allocations: the start-up objects go to the permanent generation and
    the young generation is collected 100x less often (measured: 8-25% less CPU)."""
    import gc

    gc.freeze()
    gc.set_threshold(70_000, 20, 20)


def _fast_batch(fmt: str, path: str):  # type: ignore[no-untyped-def]
    """The columnar backlog parser for ``fmt`` (PowerMTA, with pyarrow installed) when the
    files hold a backlog worth it, or None. Results are the same either way;
    OPSCONSOLE_INGEST_FAST=1 / 0 forces the one or the other (the tests run both)."""
    force = os.environ.get("OPSCONSOLE_INGEST_FAST", "")
    if fmt != "pmta" or force == "0":
        return None
    if force != "1":
        files = glob.glob(path) if glob.has_magic(path) else [path]
        size = 0
        for f in files:
            with contextlib.suppress(OSError):
                size += os.path.getsize(f)
        if size < FAST_MIN_BYTES:
            return None
    from opsconsole.core.sources import pmta_backlog

    return pmta_backlog.add_batch if pmta_backlog.available() else None


def _hint_unmapped(unmapped: dict[str, int]) -> None:
    """Names the IP map lacked, with their counts and the flag that would map them: the
    rest of the file was read (exit 0); re-read it with the map to attribute these."""
    if not unmapped:
        return
    top = sorted(unmapped.items(), key=lambda kv: -kv[1])[:10]
    names = ", ".join(f"{n} ({c:,})" for n, c in top)
    more = f" and {len(unmapped) - len(top)} more" if len(unmapped) > len(top) else ""
    sys.stderr.write(
        f"opsconsole: unattributed events of names with no IP: {names}{more};"
        f" map them with --ip-map {top[0][0]}=IP\n"
    )


class _Progress:
    """A Rich progress bar (bytes, lines/s) on a terminal; silent otherwise."""

    def __init__(self, total_bytes: int) -> None:
        self.enabled = sys.stderr.isatty() and total_bytes > 0
        self._lines = 0
        if self.enabled:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn("ingest"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[lps]} lines/s"),
                TimeElapsedColumn(),
                transient=True,
            )
            self.task = self.progress.add_task("ingest", total=total_bytes, lps="0")
            self.started = time.monotonic()

    def advance(self, totals, nbytes: int) -> None:  # type: ignore[no-untyped-def]
        if self.enabled:
            rate = totals.lines / max(1e-6, time.monotonic() - self.started)
            self.progress.update(self.task, advance=nbytes, lps=f"{rate:,.0f}")

    def __enter__(self) -> _Progress:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()
