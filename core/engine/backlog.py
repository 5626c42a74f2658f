"""Two cores for a backlog: a worker process reads the first part of a big file and streams
its batches to the reader, which commits them as they come and, in between, reads the rest
of the file itself; the reader's batches are committed after the worker's.

Only a one-shot reading of one file uses it (``opsconsole ingest`` without ``--follow``);
the live tail path stays in one process. Exactness:

* the worker's part is the in-order reading itself: it starts at the saved position with
  the saved parser state (or at offset 0 with none) and stops at the split, a batch
  boundary of the in-order reading (:func:`plan_split` cuts chunks exactly as
  :class:`~opsconsole.core.sources.tail.Tailer` does), so its batches, lines, per-batch
  samples and checkpoints are the ones the reader would have produced;
* the reader reads from the split with a tailer of its own and the state its format's
  *split hook* (:data:`HOOKS`) primes it with (none for Postfix; for PowerMTA the file's
  first line read as the header), and holds its batches. They are committed only if the
  hook says the state the worker's part ended with could not have changed their reading,
  mapped to the in-order states (the checkpoints carry them). Otherwise they are dropped
  and the reader reads on in order from the worker's last checkpoint;
* both read each batch the same way (:func:`read_batch`: the columnar path where the reader
  has one, else the line parser);
* every batch is committed with its checkpoint, in file order: a kill at any moment leaves
  a prefix of the file committed, and a rerun resumes from it. A worker that fails or is
  killed leaves the batches it sent; the reader reads on in order from there.

Generic part: split, fork, stream. A format joins by registering a hook in :data:`HOOKS`
(``arm(parser, path)`` primes the reader's parser for the second part and returns what it
records, ``merger(before, record, last)`` the state mapping or None, ``share`` the part of
the backlog the worker reads).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import struct
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsconsole.core.sources import reading
from opsconsole.core.sources.tail import (
    HASH_BYTES,
    MAX_LINE_BYTES,
    PROBE_BYTES,
    Batch,
    Checkpoint,
    Tailer,
    decode_lines,
    line_pieces,
    prefix_hash,
)

BATCH_BYTES = 8 << 20  # a reader's batch (SourceReader's default), here to fork before it loads
MIN_BYTES = 48 << 20  # a smaller backlog is read in one process (the fork is not worth it)
# Rows (buckets, signature hits, samples) the reader holds from its own part while the
# worker's are committed (frozen: ~5 MB); past it, the round ends with the worker's part
# and the next round splits what is left. Not more: where batches are that dense (40k+
# buckets each) the reader's commits are the critical path, and its parsing slows them
# (measured with 400k: 8% slower on the other generator's file).
HOLD_ROWS = 120_000

# A batch of fewer rows than this is sparse (SplitHook.sparse_share): at ~3 us a row in
# SQLite it commits in under half of its parsing (~60 ms per 8 MB of PowerMTA CSV).
SPARSE_ROWS = 10_000

State = dict[str, Any]
Merger = Callable[[State], State]
# The columnar parser of a format (pmta_backlog.add_batch): fills the aggregate from a
# batch's raw bytes exactly as the line parser would, or returns False and changes nothing.
FastBatch = Callable[[Any, Any, bytes], bool]


@dataclass(frozen=True)
class SplitHook:
    arm: Callable[[Any, str], Any]  # (parser, path) -> the record the second part keeps
    merger: Callable[[Mapping[str, Any], Any, Mapping[str, Any]], Merger | None]
    # The part of the backlog the worker reads: the reader also commits every batch, so
    # it keeps less where commits cost more than parsing (measured: bench/ingest_*.py);
    # the reader's start-up (imports, migrations) runs while the worker already reads.
    share: float = 0.5
    # The share where batches are sparse (under SPARSE_ROWS rows to commit each): their
    # commits cost little next to their parsing, and the reader, idle at the end with
    # ``share``, parses more itself. An early worker picks it after its first batch (the
    # reader knows nothing of the file yet when it forks); None: ``share`` always.
    sparse_share: float | None = None


def _postfix_arm(parser: Any, path: str) -> set[str]:
    probe: set[str] = set()
    parser._probe = probe
    return probe


def _postfix_merger(before: Mapping[str, Any], probe: Any, last: Mapping[str, Any]) -> Any:
    from opsconsole.core.sources.postfix import split_merger

    return split_merger(before, probe, last)


def _pmta_arm(parser: Any, path: str) -> State:
    """The second part's parser reads the file's first line first (a header there sets the
    columns, as in the in-order reading; its counts are dropped: they are the first
    part's). The record is the state the second part starts with."""
    with open(path, "rb") as f:
        first = f.readline(MAX_LINE_BYTES + 1)
    if first.endswith(b"\n"):
        lines, _ = decode_lines(first)
        for _ev in parser.feed(lines):
            pass
        parser.stats.take()
    return dict(parser.get_state())


def _pmta_merger(before: Mapping[str, Any], start: Any, last: Mapping[str, Any]) -> Any:
    """The reading is a function of the columns alone: the second part's stands for the
    in-order one when the first part ended with the columns it started with."""
    return dict if dict(before) == start else None


HOOKS: dict[str, SplitHook] = {
    "postfix": SplitHook(_postfix_arm, _postfix_merger, share=0.55),
    "pmta": SplitHook(_pmta_arm, _pmta_merger, share=0.7, sparse_share=0.62),
}


def read_batch(parser: Any, agg: Any, batch: Batch, fast: FastBatch | None, max_line: int) -> None:
    """One batch into ``agg`` and ``parser.stats``: raw bytes through the columnar parser
    when it takes them, else decoded and fed to the line parser (reader and worker alike)."""
    if batch.data is not None:
        if fast is None or not fast(parser, agg, batch.data):
            for lines, _ in line_pieces(batch.data, max_line):
                agg.add_all(parser.feed(lines))
    else:
        agg.add_all(parser.feed(batch.lines))


def agg_rows(agg: Any) -> int:
    """The rows a batch's aggregate commits (buckets, signature hits, samples)."""
    return agg.bucket_count() + len(agg.signature_hits) + len(agg.samples)


def _strip(agg: Any) -> None:
    """Drop what a pickled aggregate must not carry: the shared provider and signature
    tables (the committing reader puts its own back) and the per-batch caches."""
    agg.providers = agg.signatures = None
    agg._domains, agg._sig_of = {}, {}


def freeze(agg: Any, stats: Any) -> bytes:
    """A batch's aggregate and stats as bytes for a while: a bucket held as Python objects
    costs ~300-800 bytes, pickled ~40 (keys share their strings)."""
    _strip(agg)
    return pickle.dumps((agg, stats), protocol=pickle.HIGHEST_PROTOCOL)


def thaw(blob: bytes) -> tuple[Any, Any]:
    """(aggregate, stats) of :func:`freeze`."""
    agg, stats = pickle.loads(blob)
    return agg, stats


@dataclass
class WorkerBatch:
    start: int
    end: int
    checkpoint: Checkpoint
    agg: Any  # BatchAggregate
    stats: Any  # ParseStats
    state: State
    # (seed, CRC32 of the batch's bytes continued from seed): the reading record's running
    # CRC (core/sources/reading.py), so the reader need not read the bytes back
    crc: tuple[int, int] | None = None


# Frames on the worker's pipe: an 8-byte length, then a pickle of one of
#   ("split", offset)       (an early worker's first frame) where it stops: the first
#                           batch boundary at or past its target (SplitHook.sparse_share),
#                           walked by the worker; None: none before the end
#   ("batch", WorkerBatch)  one batch, in file order
#   ("end", offset)         done: the last batch sent ended there, the first boundary at
#                           or past the target
#   ("failed", reason)      the worker stopped early (its batches sent so far stand)
_LEN = struct.Struct("<Q")


FRAMES_AHEAD = 4  # frames decoded ahead of the reader's commits
# ... and no more than this many pickled bytes of them, one frame always let through (a
# bucket dict decodes to ~12x its pickle: 50k buckets pickle to ~2 MB and decode to ~26 MB;
# the columnar parser's BucketColumns decode to about their size, ~4 MB for 43k).
AHEAD_BYTES = 1 << 20
# Pickled frames the worker queues for its pipe. Counted in bytes, not frames: the reader
# takes none while it loads and opens its database (~0.5 s), and a worker that stopped
# after 4 frames stalled there (0.15-0.3 s of the critical path on a 384 MB file, whose
# frames are ~0.2 MB); 16 MB is also 4 frames of 43k buckets each.
SEND_FRAMES, SEND_BYTES = 256, 16 << 20


class Worker:
    """A forked process reading bytes [start, split) of one file, in order, streaming its
    batches; :meth:`frames` delivers them to the reader's event loop. Both ends hold at
    most :data:`FRAMES_AHEAD` frames (the reader's end also at most about
    :data:`AHEAD_BYTES`): a worker far ahead of the commits waits (memory stays bounded
    whatever the backlog's size) and the reader reads more of its own part."""

    def __init__(
        self,
        pid: int,
        rfd: int,
        path: str,
        start: Checkpoint,
        target: int,
        max_bytes: int,
        announces: bool = False,
    ) -> None:
        self.pid, self.rfd, self.path, self.start, self.target = pid, rfd, path, start, target
        self.dev, self.inode, self.max_bytes = start.dev, start.inode, max_bytes
        # An early worker (``announces``) says where it stops in its first frame: set then
        self._said: tuple[int | None] | None = None
        self._announced = threading.Event()
        if not announces:
            self._announced.set()
        # The first batch boundary at or past ``target`` (where the worker stops), once
        # known: planned before the fork, said by an early worker (:meth:`said_split`), or
        # walked to by the reader (:func:`boundary`); None: none before the end.
        self.split: int | None = None
        self._thread: threading.Thread | None = None
        self._room = _Room(FRAMES_AHEAD, AHEAD_BYTES)
        self._closing = False

    def frames(self, loop: Any) -> _Frames:
        """The frames as (kind, payload) in order, then ("eof", None)."""
        import asyncio

        q: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def pump() -> None:
            try:
                while True:
                    self._room.wait()
                    if self._closing:
                        break
                    head = _read_exact(self.rfd, _LEN.size)
                    if head is None:
                        break
                    body = _read_exact(self.rfd, _LEN.unpack(head)[0])
                    if body is None:
                        break
                    frame = pickle.loads(body)
                    if frame[0] == "split":
                        self._said = (frame[1],)
                        self._announced.set()
                        continue
                    self._room.take(len(body))
                    loop.call_soon_threadsafe(q.put_nowait, (frame, len(body)))
            except Exception:  # a torn frame (the worker was killed): what came stands
                pass
            self._announced.set()  # none is coming
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(q.put_nowait, (("eof", None), 0))

        self._thread = threading.Thread(target=pump, name="backlog-pipe", daemon=True)
        self._thread.start()
        return _Frames(q, self._room)

    def said_split(self, timeout: float = 30.0) -> tuple[int | None] | None:
        """(the split,) once an early worker has said where it stops (its first frame;
        needs :meth:`frames` running), or None if it never says (it failed first, is that
        slow, or is no early worker): the reader then walks to the split itself, and a
        second part that does not start where the worker stopped is read again in order."""
        self._announced.wait(timeout)
        return self._said

    def close(self) -> None:
        """Stop the worker (if still running), reap it, then close the pipe."""
        self._closing = True
        self._announced.set()
        self._room.close()  # a pump waiting for room wakes and ends
        if self.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
        if self._thread is not None:
            self._thread.join()  # the write end is closed: a pump in a read sees EOF
            self._thread = None
        if self.rfd >= 0:
            os.close(self.rfd)
            self.rfd = -1


class _Room:
    """Frames on their way and their pickled bytes: who makes them waits while there are
    ``max_frames`` of them or ``max_bytes`` (one frame is always let through). The
    reader's pipe pump waits for the frames it decoded, the worker for those it queued."""

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self._cond = threading.Condition()
        self._frames = self._bytes = 0
        self._max_frames, self._max_bytes = max_frames, max_bytes
        self._closed = False

    def _free(self) -> bool:
        return self._closed or (self._frames < self._max_frames and self._bytes < self._max_bytes)

    def wait(self) -> None:
        with self._cond:
            self._cond.wait_for(self._free)

    def take(self, nbytes: int) -> None:
        with self._cond:
            self._frames += 1
            self._bytes += nbytes

    def give(self, nbytes: int) -> None:
        with self._cond:
            self._frames -= 1
            self._bytes -= nbytes
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()


@dataclass
class _Frames:
    queue: Any  # asyncio.Queue of (decoded frame, its pickled size)
    room: _Room

    async def get(self) -> tuple[str, Any]:
        return self._taken(await self.queue.get())

    def get_nowait(self) -> tuple[str, Any] | None:
        """The next frame if one is already here, else None."""
        return None if self.queue.empty() else self._taken(self.queue.get_nowait())

    def _taken(self, item: tuple[tuple[str, Any], int]) -> tuple[str, Any]:
        frame, nbytes = item
        if frame[0] != "eof":
            self.room.give(nbytes)
        return frame


def _read_exact(fd: int, n: int) -> bytes | None:
    parts = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def start(
    path: str,
    ck: Checkpoint,
    target: int,
    *,
    state: Mapping[str, Any],
    max_bytes: int,
    max_lines: int | None,
    make_parser: Callable[[], Any],
    make_agg: Callable[[], Any],
    fast: FastBatch | None = None,
    retarget: Callable[[int], int] | None = None,
) -> Worker:
    """Fork a worker reading ``path`` from ``ck`` (with parser ``state``) up to the first
    batch boundary at or past ``target``. With ``retarget`` (rows of the first batch ->
    target) the worker picks its target after the first batch, walks to that boundary and
    says it (a "split" frame): the reader then need not walk there itself."""
    rfd, wfd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(wfd)
        return Worker(pid, rfd, path, ck, target, max_bytes, announces=retarget is not None)
    code = 1
    try:  # the child: never returns into the caller's code
        os.close(rfd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        out: queue.Queue[bytes | None] = queue.Queue()
        room = _Room(SEND_FRAMES, SEND_BYTES)
        writer = threading.Thread(target=_send_all, args=(wfd, out, room), daemon=True)
        writer.start()  # writes while the worker parses on (the reader may be busy)

        def send(frame: tuple[str, Any]) -> None:
            data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
            room.wait()
            room.take(len(data))
            out.put(data)

        try:
            end = _work(path, ck, target, state, max_bytes, max_lines, make_parser, make_agg,
                        fast, parent, send, retarget)  # fmt: skip
            send(("end", end))
        except Exception as e:
            send(("failed", repr(e)))
        out.put(None)
        writer.join()
        code = 0
    finally:
        os._exit(code)


def _send_all(wfd: int, out: queue.Queue[bytes | None], room: _Room) -> None:
    gone = False
    while (data := out.get()) is not None:
        if not gone:  # the reader gone: drain, so the parsing thread never blocks
            try:
                view = memoryview(_LEN.pack(len(data)) + data)
                while view:
                    view = view[os.write(wfd, view) :]
            except OSError:
                gone = True
        room.give(len(data))
    os.close(wfd)


def _work(  # type: ignore[no-untyped-def]
    path, ck, target, state, max_bytes, max_lines, make_parser, make_agg, fast, parent, send,
    retarget,
):  # fmt: skip
    raw = fast is not None
    tailer = Tailer(path, [ck], max_bytes=max_bytes, max_lines=max_lines, raw_bytes=raw)
    parser = make_parser()
    parser.set_state(state)
    expect = ck.offset
    crc = reading.running_crc(state) if ck.offset else 0  # as the reader would continue it
    try:
        for batch in tailer.iter_batches():
            cp = batch.checkpoint
            if cp.inode != ck.inode or batch.rotated_from is not None:
                raise RuntimeError("the file was replaced")
            if batch.start_offset != expect:
                raise RuntimeError(f"batch at {batch.start_offset}, not {expect}")
            agg = make_agg()
            read_batch(parser, agg, batch, fast, tailer.max_line)
            if retarget is not None:
                split = _walk(path, ck, max_bytes, tailer.max_lines, retarget(agg_rows(agg)))
                send(("split", split))
                target = split if split is not None else 1 << 62  # none: on to the end
                retarget = None
            stats = parser.stats.take()
            _strip(agg)
            pair = None
            view = batch.raw  # the bytes as read, when read in one piece
            if crc is not None and view is not None and len(view) == batch.end_offset - expect:
                pair = (crc, zlib.crc32(view, crc))
            crc = pair[1] if pair is not None else None
            send(("batch", WorkerBatch(batch.start_offset, batch.end_offset, cp, agg, stats,
                                       dict(parser.get_state()), pair)))  # fmt: skip
            expect = batch.end_offset
            if expect >= target:
                return expect
            if os.getppid() != parent:
                raise RuntimeError("the reader is gone")
    finally:
        tailer.close()
    return expect  # the end of the file came first: the whole backlog was the worker's


def early(
    path: str,
    fmt: str,
    *,
    max_bytes: int,
    max_lines: int | None,
    min_bytes: int,
    make_parser: Callable[[], Any],
    make_agg: Callable[[], Any],
    fast: FastBatch | None = None,
) -> Worker | None:
    """A worker for a fresh reading of ``path`` (from offset 0), forked before the reader
    opens its database (and before anyone walks the file's batch boundaries: the worker
    walks to its split after its first batch and says where it is, see ``Worker.said_split``);
    the reader uses it only if the database has no position for the file (see
    ``SourceReader._start_worker``), else stops it."""
    hook = HOOKS.get(fmt)
    if hook is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size < min_bytes:
            return None
        ck = checkpoint_at(fd, path, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    sparse = hook.sparse_share

    def retarget(rows: int) -> int:
        return int(size * (sparse if sparse is not None and rows < SPARSE_ROWS else hook.share))

    return start(
        path, ck, int(size * hook.share), state={}, max_bytes=max_bytes, max_lines=max_lines,
        make_parser=make_parser, make_agg=make_agg, fast=fast, retarget=retarget,
    )  # fmt: skip


def _walk(
    path: str, ck: Checkpoint, max_bytes: int, max_lines: int | None, target: int
) -> int | None:
    """:func:`boundary` from ``ck`` in the file ``ck`` names (the worker's own walk to its
    split: the reader, often the slower process at start-up, is spared it); None also if
    the file is no longer that one."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.fstat(fd).st_ino != ck.inode:
            return None
        return boundary(fd, ck.offset, max_bytes, max_lines, target)
    finally:
        os.close(fd)


def plan_split(
    fd: int, start: int, size: int, max_bytes: int, max_lines: int | None, share: float
) -> int | None:
    """The first batch boundary of the in-order reading from ``start`` at or past ``share``
    of bytes [start, size), or None (see :func:`boundary`; or the boundary is the end)."""
    at = boundary(fd, start, max_bytes, max_lines, start + int((size - start) * share))
    return at if at is not None and at < size else None


def boundary(fd: int, start: int, max_bytes: int, max_lines: int | None, target: int) -> int | None:
    """The first batch boundary of the in-order reading from ``start`` at or past
    ``target`` (the tailer's cuts: whole chunks of ``max_bytes`` ending at a newline, at
    most ``max_lines`` lines), or None: none before the last chunk (a short one), or a
    line without a newline within a chunk (the tailer's overlong path, not worth
    following)."""
    pos = start
    buf = bytearray(max_bytes)  # one buffer, read into again and again: no page faults
    while True:
        n = _chunk_length(fd, pos, max_bytes, max_lines, buf)
        if n is None:
            return None
        pos += n
        if pos >= target:
            return pos


def _chunk_length(
    fd: int, pos: int, max_bytes: int, max_lines: int | None, buf: bytearray
) -> int | None:
    """The length of the tailer's chunk at ``pos`` (a full window of ``max_bytes`` cut at
    its last newline, and after ``max_lines`` lines), or None: a short window, or none
    with a newline. Without a line limit, the window's last newline is looked for in its
    tail first (as Tailer._window reads): the walk then reads ~64 KiB per window."""
    if max_lines is None and max_bytes > 2 * PROBE_BYTES:
        tail = os.pread(fd, PROBE_BYTES, pos + max_bytes - PROBE_BYTES)
        if len(tail) < PROBE_BYTES:
            return None
        k = tail.rfind(b"\n")
        if k >= 0:
            return max_bytes - PROBE_BYTES + k + 1
    if os.preadv(fd, [buf], pos) < max_bytes:
        return None
    n = buf.rfind(b"\n") + 1
    if n == 0:
        return None
    if max_lines is not None and buf.count(b"\n", 0, n) > max_lines:
        n = len(buf) - len(bytes(buf).split(b"\n", max_lines)[-1])
    return n


def checkpoint_at(fd: int, path: str, offset: int) -> Checkpoint:
    """The checkpoint a tailer records at ``offset`` of the open file ``fd``."""
    st = os.fstat(fd)
    return Checkpoint(path, st.st_dev, st.st_ino, offset, prefix_hash(fd, min(offset, HASH_BYTES)))
