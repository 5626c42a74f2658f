"""The source reader: tail a source's files, parse, aggregate, and commit each batch with its
checkpoint in one transaction (``ReaderStore.commit_batch``). Used by ``opsconsole ingest`` and by
the engine for the configured sources.

Exactly once: a batch's buckets and the file position after its last line commit
together; on start the tailer resumes from the committed positions (the parser's state,
e.g. PowerMTA's current header, rides along in the checkpoint).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.engine import backlog
from opsconsole.core.events import system_clock
from opsconsole.core.ports import CheckpointConflict, ReaderStore, SavedCheckpoint
from opsconsole.core.providers import ProviderTable
from opsconsole.core.signatures import SignatureSet
from opsconsole.core.sources import Parser, make_parser, reading
from opsconsole.core.sources.base import MAX_UNMAPPED, ParseStats
from opsconsole.core.sources.tail import Batch, Tailer

BATCH_BYTES = backlog.BATCH_BYTES
# A split's batches committed in one transaction: at most this many, and no more bucket,
# signature-hit and sample rows than GROUP_ROWS (a batch of many buckets, e.g. random
# seconds over 900 IPs, goes alone: a group's rows are all held while it commits).
GROUP_MAX = 8
GROUP_ROWS = 50_000
MAX_CONFLICTS = 50  # resumes from the database's positions within one poll
# A batch parsed: (aggregate, stats, parser state after it, is it an ESP payload)
_Parsed = tuple[BatchAggregate, ParseStats, dict[str, Any], bool]


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
        self.splits: list[int] = []  # each split's offset: + its second part taken, - read again
        self._stopped = False

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
        # A backlog is read in rounds of split parts (each round's memory is bounded), then
        # what is left in order, from the database's positions.
        while self.two_cores and (worker := self._start_worker()) is not None:
            was = self._offset()
            try:
                go_on = await self._poll_split(worker, added)
            finally:
                worker.close()
            if not go_on:
                return
            await self._reopen()
            if self._offset() == was:
                break  # the round moved nothing (the worker failed at once): in order
        await self._poll_batches(added)

    def _offset(self) -> int:
        saved = self._saved.get(self.spec.path)
        return saved.checkpoint.offset if saved is not None else 0

    def _start_worker(self) -> backlog.Worker | None:
        """A worker reading the first part of this source's one file, if it is a backlog
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
            state: Mapping[str, Any] = {}
            if saved is not None:
                if (saved.checkpoint.dev, saved.checkpoint.inode) != (st.st_dev, st.st_ino):
                    return None  # a rotated generation comes first: read in order
                start, state = saved.checkpoint.offset, saved.parser_state
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
            split = backlog.plan_split(fd, start, st.st_size, t.max_bytes, t.max_lines, hook.share)
            if split is None:
                return None
            ck = saved.checkpoint if saved is not None else backlog.checkpoint_at(fd, path, 0)
        finally:
            os.close(fd)
        s = self.spec
        worker = backlog.start(
            path, ck, split, state=state, max_bytes=t.max_bytes, max_lines=t.max_lines,
            make_parser=lambda: make_parser(
                s.fmt, s.ip_map, now=self.clock, internal_relays=s.internal_relays
            ),
            make_agg=lambda: BatchAggregate(self.providers, self.signatures),
            fast=self.fast_batch,
        )  # fmt: skip
        worker.split = split  # a boundary: the worker stops there
        return worker

    async def _poll_split(self, worker: backlog.Worker, added: Totals) -> bool:
        """Commit the worker's batches as they come while reading from its split on, then
        this reader's own batches if the worker's last state allows (backlog.HOOKS). The
        outcome is recorded in :attr:`splits` (+split taken, -split read again in order).
        False: stop this poll (keep_going)."""
        own = _SecondPart(self, worker)
        committer = asyncio.create_task(self._commit_worker(worker, added))
        try:
            # The own part is parsed on a thread: the event loop stays free to drive each
            # commit step by step (SQLite and Arrow release the GIL while they work).
            while not committer.done() and own.held_rows + own.last_rows <= backlog.HOLD_ROWS:
                if not await asyncio.to_thread(own.read_one):
                    break
            done = await committer
        finally:
            if not committer.done():
                committer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await committer
            own.close()
        if done is None:  # the worker failed (read on in order), or a commit said stop
            self.splits.append(-(own.split or worker.target))
            stopped, self._stopped = self._stopped, False
            return not stopped
        before, end = done
        if own.split is None or not own.held:
            return True  # no second part (the worker read to the end, or to a short chunk)
        merge = own.merger(before) if end == own.split else None
        self.splits.append(own.split if merge is not None else -own.split)
        if merge is None:
            return True
        held = own.held
        while held:
            n = _group_size([h[1] for h in held])
            group = [(b, *backlog.thaw(z), merge(st), crc) for b, _r, z, st, crc in held[:n]]
            held = held[n:]
            if not await self._commit_group(group, added):
                return False
        return True

    async def _commit_worker(self, worker: backlog.Worker, added: Totals) -> Any:
        """Commit the worker's batches in order; (its last state, the offset it ended at)
        once done, None if it failed first or a commit said stop."""
        frames = worker.frames(asyncio.get_running_loop())
        state = None
        frame: tuple[str, Any] | None = await frames.get()
        while True:
            group: list[Any] = []  # the batches already here: one transaction
            rows = 0
            while frame is not None and frame[0] == "batch" and len(group) < GROUP_MAX:
                wb = frame[1]
                rows += backlog.agg_rows(wb.agg)
                if group and rows > GROUP_ROWS:
                    break  # this batch opens the next group
                batch = Batch(worker.path, [], wb.start, wb.end, wb.checkpoint)
                group.append((batch, wb.agg, wb.stats, dict(wb.state), wb.crc))
                state = wb.state
                # Small columnar batches wait for the next one (one transaction's costs for
                # several; the reader's own part parses meanwhile). A big group commits now,
                # and so do bucket dicts (held, they cost ~12x their frame: Postfix's peak
                # RSS rose ~10 MB waiting).
                wait = rows < GROUP_ROWS // 2 and wb.agg.columnar()
                frame = await frames.get() if wait else frames.get_nowait()
            if group and not await self._commit_group(group, added):
                self._stopped = True
                return None
            if frame is None:
                frame = await frames.get()
            elif frame[0] == "end" and state is not None:
                return state, frame[1]
            elif frame[0] != "batch":
                return None  # failed, or gone before a batch: read on in order

    async def _poll_batches(self, added: Totals) -> None:
        assert self._tailer is not None
        batches = self._tailer.iter_batches()
        if self.two_cores:
            await self._poll_batches_ahead(batches, added)
            return
        for batch in batches:
            if not await self._commit(batch, *self._parse(batch), added):
                return

    async def _poll_batches_ahead(self, batches: Iterator[Batch], added: Totals) -> None:
        """A one-shot reading in order: the next batch is read and parsed on a thread while
        this one commits (SQLite and Arrow release the GIL while they work), so the commit
        and the parse of a backlog's tail overlap. The tailer and parser are then a batch
        past the last commit: a stop or a failure resumes from the database's positions."""
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="read-ahead")
        ahead = pool.submit(self._read_ahead, batches)
        try:
            while (got := await asyncio.wrap_future(ahead)) is not None:
                batch, parsed = got
                if parsed is None:  # a file's first batch: its parser after the last commit
                    parsed = await asyncio.wrap_future(pool.submit(self._parse, batch))
                ahead = pool.submit(self._read_ahead, batches)
                if not await self._commit(batch, *parsed, added):
                    self._rewind = True
                    return
        except BaseException:
            self._rewind = True
            raise
        finally:
            concurrent.futures.wait([ahead])  # nobody reads the tailer after this returns
            pool.shutdown()

    def _read_ahead(self, batches: Iterator[Batch]) -> tuple[Batch, _Parsed | None] | None:
        """The next batch, parsed unless it opens a file: a new file's parser takes the
        state of the last committed position (``_parser_for``), so it waits for it."""
        batch = next(batches, None)
        if batch is None:
            return None
        cp = batch.checkpoint
        return batch, (self._parse(batch) if (cp.path, cp.inode) in self._parsers else None)

    def _parse(self, batch: Batch) -> _Parsed:
        """``batch`` parsed (see _Parsed)."""
        cp = batch.checkpoint
        parser = self._parser_for(cp.path, cp.inode)
        agg = BatchAggregate(self.providers, self.signatures)
        feed_pending = getattr(parser, "feed_pending", None)
        if feed_pending is not None and batch.data is None:  # ESP payloads: storage
            agg.pending = feed_pending(batch.lines)  # counts only new event ids
        else:  # raw bytes: the columnar path where it takes them, else the line parser
            assert self._tailer is not None
            backlog.read_batch(parser, agg, batch, self.fast_batch, self._tailer.max_line)
        return agg, parser.stats.take(), dict(parser.get_state()), feed_pending is not None

    async def _commit_group(self, group: list[Any], added: Totals) -> bool:
        """Commit consecutive batches (batch, agg, stats, state, crc) of one file in one
        transaction with the last one's checkpoint: a kill leaves all of them or none, and
        the per-commit costs (checkpoint, counters, hosts, the commit) are paid once."""
        first, agg, stats, _, crc = group[0]
        agg.providers, agg.signatures = self.providers, self.signatures
        for _b, a, st, _s, c in group[1:]:
            agg.absorb(a)
            stats.absorb(st)
            crc = reading.chain(crc, c)
        last, state = group[-1][0], group[-1][3]
        batch = Batch(last.path, [], first.start_offset, last.end_offset, last.checkpoint)
        return await self._commit(batch, agg, stats, state, False, added, crc)

    async def _commit(  # type: ignore[no-untyped-def]
        self,
        batch: Batch,
        agg,
        stats: ParseStats,
        state: dict,
        esp: bool,
        added: Totals,
        crc: reading.Crc = None,
    ) -> bool:
        """Commit one batch with its checkpoint; False: stop this poll (keep_going)."""
        cp = batch.checkpoint
        state[reading.KEY] = self._reading_after(batch, esp, crc)
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

    def _reading_after(self, batch: Batch, esp: bool, crc: reading.Crc = None) -> dict[str, object]:
        """The reading record (``ingest --rescan``) after ``batch``: what was read, with
        which flags, and a CRC of the bytes (those the tailer read, or the CRC the backlog
        worker or the second part took of them; read back from the file only for a batch
        the tailer assembled from pieces, around an overlong line)."""
        cp = batch.checkpoint
        prev = self._saved.get(cp.path)
        if esp or self.providers is not None or self.signatures is not None:
            why = "ESP payloads are deduplicated by id" if esp else "custom provider rules"
            return {"ino": cp.inode, "end": cp.offset, "broken": f"it was read with {why}"}

        def crc_from(seed: int) -> int | None:
            if batch.end_offset == batch.start_offset:
                return seed
            took = reading.continued(crc, seed, batch.end_offset - batch.start_offset)
            if took is not None:
                return took  # a split's batch: the CRC taken over the bytes as read
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
                self.spec.name, self.spec.fmt, self.spec.path, text, self.clock(), self.spec.host
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


def _group_size(rows: list[int]) -> int:
    """How many of consecutive batches of ``rows`` rows each make the first group (at
    least one)."""
    total = 0
    for n, r in enumerate(rows[:GROUP_MAX]):
        total += r
        if n and total > GROUP_ROWS:
            return n
    return min(len(rows), GROUP_MAX)


class _SecondPart:
    """The reader's own part of a split: from the worker's split to the end of the file,
    read with a tailer of its own and a parser the format's hook primed; its batches are
    held (without their bytes, their aggregates pickled: a tenth of the memory, see
    :func:`backlog.freeze`) until the worker's are committed."""

    def __init__(self, reader: SourceReader, worker: backlog.Worker) -> None:
        s = reader.spec
        self.reader, self.worker = reader, worker
        self.hook = backlog.HOOKS[s.fmt]
        self.parser = make_parser(s.fmt, s.ip_map, now=reader.clock,
                                  internal_relays=s.internal_relays)  # fmt: skip
        self.record = self.hook.arm(self.parser, worker.path)
        self.start_state = dict(self.parser.get_state())
        # (batch, its rows, its frozen aggregate and stats, the parser state after it, the
        # CRC of its bytes on their own)
        self.held: list[tuple[Batch, int, bytes, dict[str, Any], reading.Piece | None]] = []
        self.held_rows = 0  # bucket, signature-hit and sample rows held
        self.last_rows = 0  # those of the last batch read (the next one's likely size)
        self.done = False
        self.split: int | None = None  # where this part starts (the worker's stop)
        self._tailer: Tailer | None = None
        self._batches: Iterator[Batch] | None = None

    def _open(self) -> Iterator[Batch] | None:
        w, r = self.worker, self.reader
        assert r._tailer is not None
        t = r._tailer
        try:
            fd = os.open(w.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_ino != w.inode:
                return None
            if w.split is None:  # an early worker: where it stops, said by it as it reads
                said = w.said_split()
                w.split = (
                    said[0] if said is not None
                    else backlog.boundary(fd, w.start.offset, t.max_bytes, t.max_lines, w.target)
                )  # fmt: skip
            self.split = w.split
            if self.split is None:
                return None
            ck = backlog.checkpoint_at(fd, w.path, self.split)
        finally:
            os.close(fd)
        self._tailer = Tailer(
            w.path, [ck], max_bytes=t.max_bytes, max_lines=t.max_lines,
            raw_bytes=r.fast_batch is not None,
        )  # fmt: skip
        return self._tailer.iter_batches()

    def read_one(self) -> bool:
        """Read and hold the next batch; False at the end (or anything off plan)."""
        if self.done:
            return False
        if self._batches is None:
            self._batches = self._open()
        batch = next(self._batches, None) if self._batches is not None else None
        expect = self.held[-1][0].end_offset if self.held else self.split
        if (
            batch is None
            or batch.rotated_from is not None
            or batch.checkpoint.inode != self.worker.inode
            or batch.start_offset != expect
        ):
            self.done = True
            return False
        agg = BatchAggregate(self.reader.providers, self.reader.signatures)
        assert self._tailer is not None
        backlog.read_batch(self.parser, agg, batch, self.reader.fast_batch, self._tailer.max_line)
        stats = self.parser.stats.take()
        kept = Batch(batch.path, [], batch.start_offset, batch.end_offset, batch.checkpoint)
        self.last_rows = backlog.agg_rows(agg)
        size, raw = batch.end_offset - batch.start_offset, batch.raw
        piece = (
            reading.Piece(zlib.crc32(raw), size) if raw is not None and len(raw) == size else None
        )
        self.held.append((kept, self.last_rows, backlog.freeze(agg, stats),
                          dict(self.parser.get_state()), piece))  # fmt: skip
        self.held_rows += self.last_rows
        return True

    def merger(self, before: Mapping[str, Any]) -> backlog.Merger | None:
        """The state mapping for the held batches, or None (read them again in order)."""
        last = self.held[-1][3] if self.held else self.start_state
        return self.hook.merger(before, self.record, last)

    def close(self) -> None:
        if self._tailer is not None:
            self._tailer.close()
            self._tailer = None
