"""The source reader: tail a source's files, parse, aggregate, and commit each batch with its
checkpoint in one transaction (``ReaderStore.commit_batch``). Used by ``opsconsole ingest`` and by
the engine for the configured sources.

Exactly once: a batch's buckets and the file position after its last line commit
together; on start the tailer resumes from the committed positions (the parser's state,
e.g. PowerMTA's current header, rides along in the checkpoint).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.engine import backlog
from opsconsole.core.events import system_clock
from opsconsole.core.ports import CheckpointConflict, ReaderStore, SavedCheckpoint
from opsconsole.core.providers import ProviderTable
from opsconsole.core.signatures import SignatureSet
from opsconsole.core.sources import Parser, make_parser, reading
from opsconsole.core.sources.base import MAX_UNMAPPED, ParseStats
from opsconsole.core.sources.tail import Batch, Tailer, decode_lines

BATCH_BYTES = 8 << 20
MAX_CONFLICTS = 50  # resumes from the database's positions within one poll


@dataclass(frozen=True)
class SourceSpec:
    name: str
    fmt: str
    path: str  # file or glob
    ip_map: Mapping[str, str] = field(default_factory=dict)
    internal_relays: tuple[str, ...] = ()
    host: str = ""  # the host reading it (recorded with each batch: the fleet views)


@dataclass
class Totals:
    lines: int = 0
    events: int = 0
    malformed: int = 0
    unattributed: int = 0
    ignored: int = 0
    internal: int = 0
    expired: int = 0
    bytes: int = 0
    unmapped: dict[str, int] = field(default_factory=dict)  # name -> unattributed events

    def add(self, stats: ParseStats, nbytes: int) -> None:
        self.lines += stats.lines
        self.events += stats.events
        self.malformed += stats.malformed
        self.unattributed += stats.unattributed
        self.ignored += stats.ignored
        self.internal += stats.internal
        self.expired += stats.expired
        self.bytes += nbytes
        self._merge(stats.unmapped)

    def _merge(self, unmapped: dict[str, int]) -> None:
        for name, n in unmapped.items():
            if name in self.unmapped or len(self.unmapped) < MAX_UNMAPPED:
                self.unmapped[name] = self.unmapped.get(name, 0) + n

    def __iadd__(self, other: Totals) -> Totals:
        for f in dataclasses.fields(self):
            if f.name != "unmapped":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self._merge(other.unmapped)
        return self


class SourceReader:
    """Reads one source (a file or a glob of files) into the store, exactly once."""

    def __init__(
        self,
        store: ReaderStore,
        spec: SourceSpec,
        clock: Callable[[], float] = system_clock,
        batch_bytes: int = BATCH_BYTES,
        on_batch: Callable[[Totals, int], None] | None = None,
        providers: ProviderTable | None = None,
        signatures: SignatureSet | None = None,
        fast_batch: Callable[[Parser, BatchAggregate, bytes], bool] | None = None,
    ) -> None:
        # A columnar parser for whole batches of raw bytes (pmta_backlog.add_batch): it
        # fills the aggregate exactly as feed() would, or returns False to leave the batch
        # to feed(). Checkpoints and commits are the same either way.
        self.fast_batch = fast_batch
        self.store = store
        self.providers = providers
        self.signatures = signatures
        self.spec = spec
        self.clock = clock
        self.batch_bytes = batch_bytes
        self.on_batch = on_batch
        self.totals = Totals()
        self._parsers: dict[tuple[str, int], Parser] = {}
        self._saved: dict[str, SavedCheckpoint] = {}
        self._tailer: Tailer | None = None
        self._recorded_errors: dict[str, str] = {}  # what status shows now
        self._rewind = False
        # Awaited after each committed batch; False stops this poll at that boundary (the
        # engine renews its lease here, and stops on SIGTERM or a lost lease).
        self.keep_going: Callable[[], Awaitable[bool]] | None = None
        # A one-shot reading (``ingest``) may read a big file's second half in a worker
        # process (core/engine/backlog.py); the live tail path stays in one process.
        self.two_cores = False
        self.split_min_bytes = backlog.MIN_BYTES
        self.early_worker: backlog.Worker | None = None  # forked before open (backlog.early)

    async def open(self) -> None:
        self._saved = await self.store.load_checkpoints(self.spec.host)
        checkpoints = {p: c.checkpoint for p, c in self._saved.items()}
        self._tailer = Tailer(
            self.spec.path, checkpoints, max_bytes=self.batch_bytes,
            raw_bytes=self.fast_batch is not None,
        )  # fmt: skip

    def _parser_for(self, path: str, inode: int) -> Parser:
        key = (path, inode)
        parser = self._parsers.get(key)
        if parser is None:
            parser = make_parser(
                self.spec.fmt, self.spec.ip_map, now=self.clock,
                internal_relays=self.spec.internal_relays,
            )  # fmt: skip
            saved = self._saved.get(path)
            if saved is not None and saved.checkpoint.inode == inode:
                parser.set_state(saved.parser_state)
            # One parser per file identity: a rotated-in file starts with fresh state.
            self._parsers = {k: v for k, v in self._parsers.items() if k[0] != path}
            self._parsers[key] = parser
        return parser

    async def poll(self) -> Totals:
        """Read and commit everything available now; return what this call added.

        If a commit fails (database locked past its busy timeout, cancelled), the exception
        propagates and the next call resumes from the checkpoints the database holds, so a
        caller may simply retry: the failed batch is read again, never skipped or repeated.
        If another writer moved a checkpoint (CheckpointConflict), this reader resumes from
        the database's positions at once and goes on.
        """
        assert self._tailer is not None, "open() first"
        added = Totals()
        for _ in range(MAX_CONFLICTS):
            if self._rewind:
                await self._reopen()
            try:
                await self._poll_once(added)
                break
            except CheckpointConflict:
                self._rewind = True
        await self._sync_errors()
        return added

    async def _reopen(self) -> None:
        assert self._tailer is not None
        self._tailer.close()
        self._parsers.clear()
        await self.open()
        self._rewind = False

    async def _poll_once(self, added: Totals) -> None:
        worker = self._start_worker() if self.two_cores else None
        try:
            if await self._poll_batches(added, worker):
                # the worker's half is committed: resume from the database's positions
                await self._reopen()
                await self._poll_batches(added, None)
        finally:
            if worker is not None:
                worker.close()

    def _start_worker(self) -> backlog.Worker | None:
        """A worker reading the second half of this source's one file, if it is a backlog
        worth splitting in a format that has a split hook (core/engine/backlog.py)."""
        assert self._tailer is not None
        early, self.early_worker = self.early_worker, None
        got = self._plan_worker(early)
        if early is not None and got is not early:
            early.close()
        return got

    def _plan_worker(self, early: backlog.Worker | None) -> backlog.Worker | None:
        assert self._tailer is not None
        hook = backlog.HOOKS.get(self.spec.fmt)
        path = self.spec.path
        if hook is None or self._tailer.paths != [path]:
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            saved = self._saved.get(path)
            start = 0
            if saved is not None:
                if (saved.checkpoint.dev, saved.checkpoint.inode) != (st.st_dev, st.st_ino):
                    return None  # a rotated generation comes first: read in order
                start = saved.checkpoint.offset
            t = self._tailer
            if (
                early is not None
                and start == 0
                and (early.path, early.dev, early.inode, early.max_bytes)
                == (path, st.st_dev, st.st_ino, t.max_bytes)
            ):
                return early
            if st.st_size - start < self.split_min_bytes:
                return None
            split = backlog.plan_split(fd, start, st.st_size, t.max_bytes, t.max_lines)
            if split is None:
                return None
            ck = backlog.checkpoint_at(fd, path, split)
        finally:
            os.close(fd)
        s = self.spec
        return backlog.start(
            path, ck, max_bytes=t.max_bytes, max_lines=t.max_lines, hook=hook,
            make_parser=lambda: make_parser(
                s.fmt, s.ip_map, now=self.clock, internal_relays=s.internal_relays
            ),
            make_agg=lambda: BatchAggregate(self.providers, self.signatures),
        )  # fmt: skip

    async def _take_worker(self, worker: backlog.Worker, parser: Parser, added: Totals) -> bool:
        """After the batch ending at the split: commit the worker's batches if its reading
        stands for the in-order one (True), else False (the caller reads on in order)."""
        got = await asyncio.to_thread(worker.result)
        if got is None or not got[0]:
            return False
        batches, record = got
        hook = backlog.HOOKS[self.spec.fmt]
        merge = hook.merger(parser.get_state(), record, batches[-1].state)
        if merge is None:
            return False
        for wb in batches:
            batch = Batch(worker.path, [], wb.start, wb.end, wb.checkpoint)
            wb.agg.providers, wb.agg.signatures = self.providers, self.signatures
            await self._commit(batch, wb.agg, wb.stats, merge(wb.state), False, added)
        return True

    async def _poll_batches(self, added: Totals, worker: backlog.Worker | None) -> bool:
        assert self._tailer is not None
        for batch in self._tailer.iter_batches():
            cp = batch.checkpoint
            parser = self._parser_for(cp.path, cp.inode)
            agg = BatchAggregate(self.providers, self.signatures)
            feed_pending = getattr(parser, "feed_pending", None)
            if batch.data is not None:  # raw bytes: the columnar path, else decode and feed
                fast = self.fast_batch
                if fast is None or not fast(parser, agg, batch.data):
                    lines, _ = decode_lines(batch.data, self._tailer.max_line)
                    agg.add_all(parser.feed(lines))
            elif feed_pending is not None:  # ESP payloads: storage counts only new event ids
                agg.pending = feed_pending(batch.lines)
            else:
                agg.add_all(parser.feed(batch.lines))
            stats = parser.stats.take()
            state = dict(parser.get_state())
            if not await self._commit(batch, agg, stats, state, feed_pending is not None, added):
                return False
            if worker is not None and batch.end_offset >= worker.split:
                if (
                    batch.end_offset == worker.split
                    and (cp.path, cp.inode) == (worker.path, worker.inode)
                    and batch.rotated_from is None
                    and await self._take_worker(worker, parser, added)
                ):
                    return True
                worker.close()
                worker = None
        return False

    async def _commit(  # type: ignore[no-untyped-def]
        self, batch: Batch, agg, stats: ParseStats, state: dict, esp: bool, added: Totals
    ) -> bool:
        """Commit one batch with its checkpoint; False: stop this poll (keep_going)."""
        cp = batch.checkpoint
        state[reading.KEY] = self._reading_after(batch, esp)
        saved = SavedCheckpoint(cp, state, self.spec.host)
        try:
            await self.store.commit_batch(
                source=self.spec.name,
                fmt=self.spec.fmt,
                source_path=self.spec.path,
                agg=agg,
                stats=stats,
                checkpoint=saved,
                expected=self._saved.get(cp.path),
                now=self.clock(),
                host=self.spec.host,
            )
        except BaseException:
            # The tailer and parser are already past this batch, and a cancelled commit
            # may still land: resume from the database's checkpoints on the next poll.
            self._rewind = True
            raise
        self._saved[cp.path] = saved
        nbytes = batch.end_offset - batch.start_offset
        added.add(stats, nbytes)
        self.totals.add(stats, nbytes)
        if self.on_batch is not None:
            self.on_batch(self.totals, nbytes)
        await asyncio.sleep(0)  # let the UI and the engine's timers run between batches
        return self.keep_going is None or await self.keep_going()

    def _reading_after(self, batch: Batch, esp: bool) -> dict[str, object]:
        """The reading record (``ingest --rescan``) after ``batch``: what was read, with
        which flags, and a CRC of the bytes (those the tailer read; read back from the file
        only for a batch it assembled from pieces, around an overlong line, or a worker's)."""
        cp = batch.checkpoint
        prev = self._saved.get(cp.path)
        if esp or self.providers is not None or self.signatures is not None:
            why = "ESP payloads are deduplicated by id" if esp else "custom provider rules"
            return {"ino": cp.inode, "end": cp.offset, "broken": f"it was read with {why}"}

        def crc_from(seed: int) -> int | None:
            if batch.end_offset == batch.start_offset:
                return seed
            if batch.raw is not None and len(batch.raw) == batch.end_offset - batch.start_offset:
                return zlib.crc32(batch.raw, seed)  # the bytes as the tailer read them
            try:
                fd = os.open(batch.rotated_from or cp.path, os.O_RDONLY)
            except OSError:
                return None
            try:
                if os.fstat(fd).st_ino != cp.inode:
                    return None
                return reading.crc_range(fd, batch.start_offset, batch.end_offset, seed)
            except OSError:
                return None
            finally:
                os.close(fd)

        s = self.spec
        return reading.advance(
            reading.record_of(prev.parser_state) if prev is not None else None,
            ino=cp.inode, start=batch.start_offset, end=batch.end_offset, crc_from=crc_from,
            params=reading.params_of(s.fmt, s.ip_map, s.internal_relays), now=self.clock(),
        )  # fmt: skip

    async def _sync_errors(self) -> None:
        errors = self.errors
        if errors != self._recorded_errors:
            text = "; ".join(f"{p}: {e}" for p, e in sorted(errors.items())) or None
            await self.store.record_source_error(
                self.spec.name, self.spec.fmt, self.spec.path, text, self.clock()
            )
            self._recorded_errors = errors

    @property
    def errors(self) -> dict[str, str]:
        """Read errors by path right now (permission, I/O, missing file)."""
        return dict(self._tailer.errors) if self._tailer is not None else {}

    def pending_bytes(self) -> int:
        """Bytes not yet read across the source's current files (for progress bars)."""
        total = 0
        assert self._tailer is not None
        for path in self._tailer.paths:
            try:
                size = os.stat(path).st_size
            except OSError:
                continue
            saved = self._saved.get(path)
            total += max(0, size - (saved.checkpoint.offset if saved else 0))
        return total

    def close(self) -> None:
        if self._tailer is not None:
            self._tailer.close()
