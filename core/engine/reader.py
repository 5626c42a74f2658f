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
            state[reading.KEY] = self._reading_after(batch, feed_pending is not None)
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
            if self.keep_going is not None and not await self.keep_going():
                return

    def _reading_after(self, batch: Batch, esp: bool) -> dict[str, object]:
        """The reading record (``ingest --rescan``) after ``batch``: what was read, with
        which flags, and a CRC of the bytes (read back from the file: the tailer hands out
        decoded lines)."""
        cp = batch.checkpoint
        prev = self._saved.get(cp.path)
        if esp or self.providers is not None or self.signatures is not None:
            why = "ESP payloads are deduplicated by id" if esp else "custom provider rules"
            return {"ino": cp.inode, "end": cp.offset, "broken": f"it was read with {why}"}

        def crc_from(seed: int) -> int | None:
            if batch.end_offset == batch.start_offset:
                return seed
            if batch.data is not None and len(batch.data) == batch.end_offset - batch.start_offset:
                return zlib.crc32(batch.data, seed)  # the raw bytes are at hand
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
