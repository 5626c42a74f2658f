"""Two cores for a backlog: a worker process reads the second half of a big file while the
reader reads the first; the reader then commits the worker's batches in file order.

Only a one-shot reading of one file uses it (``opsconsole ingest`` without ``--follow``);
the live tail path stays in one process. Exactness:

* the split point is a batch boundary of the in-order reading (:func:`plan_split` cuts
  chunks exactly as :class:`~opsconsole.core.sources.tail.Tailer` does) and the worker reads
  with a tailer of its own from there, so its batches, lines, per-batch samples and
  checkpoints are the ones the in-order reading would have produced;
* the worker starts with no parser state; its result is taken only if the format's
  *split hook* (:data:`HOOKS`) says the state the first half ended with could not have
  changed the second half's reading, and the hook maps each worker state to the in-order
  one (the checkpoints carry it). Otherwise the reader reads the second half itself;
* the reader commits batch by batch as always, each with its checkpoint, first its own
  half then the worker's: a kill at any moment leaves a prefix of the file committed, and a
  rerun resumes from it.

Generic part: split, fork, collect. A format joins by registering a hook in :data:`HOOKS`
(``arm(parser)`` returns what the worker records, ``merger(before, record, last)`` the state
mapping or None).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsconsole.core.sources.tail import HASH_BYTES, Checkpoint, Tailer, prefix_hash

MIN_BYTES = 48 << 20  # a smaller backlog is read in one process (the fork is not worth it)
SHARE = 0.5  # the fraction of the backlog the reader keeps (it also does every commit)
# ... when the worker is forked before the reader opens the database (:func:`early`): the
# reader's start-up (imports, migrations) runs while the worker already reads
SHARE_EARLY = 0.4

State = dict[str, Any]
Merger = Callable[[State], State]


@dataclass(frozen=True)
class SplitHook:
    arm: Callable[[Any], Any]  # parser -> the record the worker keeps while reading
    merger: Callable[[Mapping[str, Any], Any, Mapping[str, Any]], Merger | None]


def _postfix_arm(parser: Any) -> set[str]:
    probe: set[str] = set()
    parser._probe = probe
    return probe


def _postfix_merger(before: Mapping[str, Any], probe: Any, last: Mapping[str, Any]) -> Any:
    from opsconsole.core.sources.postfix import split_merger

    return split_merger(before, probe, last)


HOOKS: dict[str, SplitHook] = {"postfix": SplitHook(_postfix_arm, _postfix_merger)}


@dataclass
class WorkerBatch:
    start: int
    end: int
    checkpoint: Checkpoint
    agg: Any  # BatchAggregate
    stats: Any  # ParseStats
    state: State


def plan_split(
    fd: int, start: int, size: int, max_bytes: int, max_lines: int | None, share: float = SHARE
) -> int | None:
    """The first batch boundary of the in-order reading from ``start`` at or past ``share``
    of bytes [start, size), or None (no such boundary before the last chunk, or a line
    without a newline within a chunk: the tailer's overlong path, not worth following)."""
    want = start + int((size - start) * share)
    pos = start
    while True:
        buf = os.pread(fd, max_bytes, pos)
        if len(buf) < max_bytes:
            return None
        n = buf.rfind(b"\n") + 1
        if n == 0:
            return None
        if max_lines is not None and buf.count(b"\n", 0, n) > max_lines:
            n = len(buf) - len(buf.split(b"\n", max_lines)[-1])
        pos += n
        if pos >= want:
            return pos if pos < size else None


class Worker:
    """A forked process reading bytes [split, EOF) of one file into batch aggregates."""

    def __init__(self, pid: int, rfd: int, path: str, ck: Checkpoint, max_bytes: int) -> None:
        self.pid, self.rfd, self.path, self.split = pid, rfd, path, ck.offset
        self.dev, self.inode, self.max_bytes = ck.dev, ck.inode, max_bytes

    def result(self) -> tuple[list[WorkerBatch], Any] | None:
        """Block until the worker is done: its batches and record, or None if it failed."""
        chunks = []
        try:
            while True:
                b = os.read(self.rfd, 1 << 20)
                if not b:
                    break
                chunks.append(b)
        finally:
            self.close()
        try:
            out = pickle.loads(b"".join(chunks))
        except Exception:
            return None
        return (out[1], out[2]) if out and out[0] == "ok" else None

    def close(self) -> None:
        """Stop the worker (if still running) and reap it."""
        if self.rfd >= 0:
            os.close(self.rfd)
            self.rfd = -1
        if self.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


def start(
    path: str,
    ck: Checkpoint,
    *,
    max_bytes: int,
    max_lines: int | None,
    make_parser: Callable[[], Any],
    make_agg: Callable[[], Any],
    hook: SplitHook,
) -> Worker:
    """Fork a worker reading ``path`` from ``ck.offset`` (a batch boundary)."""
    rfd, wfd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(wfd)
        return Worker(pid, rfd, path, ck, max_bytes)
    code = 1
    try:  # the child: never returns into the caller's code
        os.close(rfd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        out: tuple[Any, ...] = ("failed",)
        try:
            got = _work(path, ck, max_bytes, max_lines, make_parser, make_agg, hook, parent)
            out = ("ok", *got)
        except Exception as e:
            out = ("failed", repr(e))
        data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(wfd, view) :]
        code = 0
    finally:
        os._exit(code)


def _work(path, ck, max_bytes, max_lines, make_parser, make_agg, hook, parent):  # type: ignore[no-untyped-def]
    tailer = Tailer(path, [ck], max_bytes=max_bytes, max_lines=max_lines)
    parser = make_parser()
    record = hook.arm(parser)
    batches: list[WorkerBatch] = []
    try:
        for batch in tailer.iter_batches():
            cp = batch.checkpoint
            expect = batches[-1].end if batches else ck.offset
            if cp.inode != ck.inode or batch.rotated_from is not None:
                raise RuntimeError("the file was replaced")
            if batch.start_offset != expect:
                raise RuntimeError(f"batch at {batch.start_offset}, not {expect}")
            agg = make_agg()
            agg.add_all(parser.feed(batch.lines))
            stats = parser.stats.take()
            agg.providers = agg.signatures = None  # shared tables: not sent back
            agg._domains, agg._sig_of = {}, {}  # caches
            batches.append(
                WorkerBatch(batch.start_offset, batch.end_offset, cp, agg, stats,
                            dict(parser.get_state()))
            )  # fmt: skip
            if os.getppid() != parent:
                raise RuntimeError("the reader is gone")
    finally:
        tailer.close()
    return batches, record


def early(
    path: str,
    fmt: str,
    *,
    max_bytes: int,
    max_lines: int | None,
    min_bytes: int,
    make_parser: Callable[[], Any],
    make_agg: Callable[[], Any],
) -> Worker | None:
    """A worker for a fresh reading of ``path`` (from offset 0), forked before the reader
    opens its database; the reader uses it only if the database has no position for the
    file (see ``SourceReader._start_worker``), else stops it."""
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
        split = plan_split(fd, 0, size, max_bytes, max_lines, SHARE_EARLY)
        if split is None:
            return None
        ck = checkpoint_at(fd, path, split)
    except OSError:
        return None
    finally:
        os.close(fd)
    return start(
        path, ck, max_bytes=max_bytes, max_lines=max_lines, hook=hook,
        make_parser=make_parser, make_agg=make_agg,
    )  # fmt: skip


def checkpoint_at(fd: int, path: str, offset: int) -> Checkpoint:
    """The checkpoint a tailer records at ``offset`` of the open file ``fd``."""
    st = os.fstat(fd)
    return Checkpoint(path, st.st_dev, st.st_ino, offset, prefix_hash(fd, min(offset, HASH_BYTES)))
