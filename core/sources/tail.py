"""Pure-I/O line reader for ``ingest PATH...`` and ``--follow``: no SQL, no parsing.

A :class:`Tailer` watches plain paths and glob patterns and hands out :class:`Batch` es of
complete lines. Each batch carries the :class:`Checkpoint` of the position just after its
last line; the caller commits that checkpoint in the same transaction as whatever it built
from the lines, and only then asks for more. Given that, and a restart from the last
committed checkpoints after a crash, every line is delivered exactly once (see the limits
below for what no reader can promise).

Identity of a file
    ``(dev, inode)`` plus ``first_line_hash`` = sha1 hex of the file's first
    ``min(offset, HASH_BYTES)`` bytes (``HASH_BYTES`` = 1024), i.e. of bytes that were already
    consumed, so the hash never changes while the file grows; it is ``""`` at offset 0.
    Since a checkpoint only ever sits at a line end, for offset > 0 this always covers the
    whole first line (cut at 1 KiB), and usually a few more, which tells apart files whose
    first line is a repeated CSV header. It detects a new file that reuses the inode and a
    copytruncate followed by regrowth past the old offset. If ``dev`` differs (some
    filesystems renumber devices after a reboot) an equal inode plus an equal hash still
    counts as the same file.

Resume (startup, or reopening after a read error)
    * same identity, size >= offset, hash matches -> continue at the offset;
    * same inode but size < offset or hash differs (copytruncate, inode reuse) -> from 0;
    * identity changed (rename-and-create rotation, possibly while we were down) -> first
      finish the old file if a file with the checkpoint's inode (and matching hash) is in the
      same directory (``maillog.1``, ``acct-x.csv.1``; compressed copies are different
      inodes and are never read), from the saved offset to its end, then the new file from 0.
    * path missing -> the old file is still finished if found; a plain path is then reported
      as "file not found" (in :attr:`Tailer.errors`) and watched until it appears.

Following (call :meth:`Tailer.poll` repeatedly; the caller schedules it)
    * rename-and-create: the path now has another inode -> the open descriptor of the old
      file is drained to EOF (so lines written to it after the rename are read), then the
      new file is read from 0. With ``rotate_grace`` > 0 the old descriptor is kept until it
      has been idle for that many seconds, for writers that reopen late.
    * copytruncate: same inode, size < offset (or the hashed prefix changed) -> restart at 0.
      Lines written between our last read and the truncation are lost; that is inherent to
      copytruncate (the copy is a different file we cannot match reliably).
    * new files matching a glob are read from the start; files whose name ends with a
      compression suffix are ignored; a file whose inode is already being read under
      another name (a hard link, a rotated name matched by the glob) is skipped.
    * deleted files: the open descriptor is drained, then the file is dropped (a glob match
      is forgotten; a plain path keeps being watched).

Lines: decoded as UTF-8 with ``errors="replace"``, split on ``\\n`` only (``\\r`` is kept, no
other Unicode line breaks are split), without the ``\\n``. A trailing partial line is left
in the file (its bytes are not consumed) until its newline arrives. A batch is bounded by
``max_bytes`` and ``max_lines``; a single line longer than ``max_bytes`` (but not than
``max_line``) is returned whole. A raw batch (``raw_bytes``) is bounded by ``max_bytes``
alone: its lines are never a list at once (a columnar parser reads the bytes; the line
parser's fallback takes them :func:`line_pieces` at a time), and counting its newlines
would cost ~4 ms per 8 MB.

Overlong lines: a line of more than ``max_line`` bytes (default 64 KiB, without its ``\\n``)
is never held in memory: the reader scans past it in 1 MiB reads, consumes its bytes (the
offsets stay exact) and hands out one :data:`OVERLONG` marker line in its place, which every
parser counts as one malformed line (``Batch.overlong`` counts them too). While such a line
has no newline yet it is a partial line like any other; the scan resumes where it stopped.

A batch with no lines is emitted when only the position changed (switch to a new file,
reset after truncation); commit it like any other, it keeps the committed identity current.

Errors (permission, EIO, not a regular file, missing plain path) never leave ``poll()``:
they are kept in ``Tailer.errors[path]`` (cleared when the path reads again) and the other
files keep being served.

Limits: more than one rotation between two polls (or while down) loses the generations in
between (only the checkpoint's file and the current one are known); the old file is only
looked for in the path's own directory; a glob that matches rotated names (``maillog*``)
reads each renamed file once more after a restart, so use patterns that do not.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob as _glob
import hashlib
import os
import stat as _stat
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

HASH_BYTES = 1024
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024
SCAN_BYTES = 1 << 20
# Stands in for an overlong line: an unclosed quote and no "{" or syslog shape, so every
# parser counts it as malformed (and keeps it as a sample that says what happened).
OVERLONG = '"overlong line skipped ({} bytes)'

DEFAULT_MAX_LINES = 100_000
PROBE_BYTES = 64 << 10  # a raw window's tail read first, for its last newline (Tailer._window)
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".zip", ".z", ".Z")
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_MAX_STEPS = 8  # state transitions of one path within one poll (a safety bound)

Ident = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a file was read up to; maps to ``SourceCheckpoint`` (minus ``parser_state``).

    ``path`` is the watched (logical) path, also for lines that came from its rotated copy.
    """

    path: str
    dev: int
    inode: int
    offset: int
    first_line_hash: str

    @classmethod
    def from_row(cls, row: Any) -> Checkpoint:
        """From any object with the same attribute names (e.g. a ``SourceCheckpoint`` row)."""
        return cls(
            str(row.path),
            int(row.dev),
            int(row.inode),
            int(row.offset),
            str(row.first_line_hash or ""),
        )


@dataclass(slots=True)
class Batch:
    """Complete lines ``[start_offset, end_offset)`` of one file.

    ``path`` is the watched path (the checkpoint key). ``rotated_from`` is ``None`` for the
    live file at ``path``; for lines from the previous generation of ``path`` it is where
    that file lives now (e.g. ``/var/log/maillog.1``), or ``path`` if it has no name we found.
    """

    path: str
    lines: list[str]
    start_offset: int
    end_offset: int
    checkpoint: Checkpoint
    rotated_from: str | None = None
    overlong: int = 0  # lines longer than max_line, each replaced by an OVERLONG marker
    # Tailer(raw_bytes=True): the batch's bytes, undecoded (``lines`` is then empty); a consumer
    # that wants lines calls decode_lines(data, max_line), which gives exactly what
    # ``lines``/``overlong`` would have held (or line_pieces: the same, max_lines at a time).
    # Batches cut around an overlong line keep lines.
    data: bytes | None = None
    # The batch's bytes as read (either mode) when it was read in one piece, else None: what
    # the reading record's CRC is taken over without reading the file a second time.
    raw: bytes | memoryview | None = None


def prefix_hash(fd: int, offset: int) -> str:
    """sha1 hex of the first ``min(offset, HASH_BYTES)`` bytes of ``fd``; ``""`` at 0."""
    n = min(offset, HASH_BYTES)
    if n <= 0:
        return ""
    return hashlib.sha1(os.pread(fd, n, 0), usedforsecurity=False).hexdigest()


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass(eq=False, slots=True)
class _Handle:
    fd: int
    dev: int
    ino: int
    offset: int
    name: str | None  # where the file lives now, if known
    hash: str = ""  # prefix_hash of the consumed bytes [0, offset), as they were read
    partial_at: int = -1  # a size at which [offset, size) held no newline
    full_hash: str = ""  # prefix_hash(fd, HASH_BYTES), once known
    scan_at: int = -1  # an overlong line at offset has no newline in [offset, scan_at)

    @property
    def ident(self) -> Ident:
        return (self.dev, self.ino)


@dataclass(eq=False, slots=True)
class _Cursor:
    path: str
    from_glob: bool
    ckpt: Checkpoint | None = None  # position after the last batch handed out
    cur: _Handle | None = None  # the file now at ``path``
    old: _Handle | None = None  # its previous generation, being drained
    old_since: float = 0.0
    drained: Ident | None = None  # identity already drained: do not look for it again
    dead: bool = False  # a glob match that vanished: forget it


class Tailer:
    """Reads complete lines from paths and glob patterns, resuming from checkpoints.

    ``checkpoints`` are the saved ones of this source (a mapping by path or an iterable);
    those whose path is not one of ``paths`` nor matches one of its patterns are ignored.
    Not thread-safe; call ``poll()`` from one thread (``asyncio.to_thread`` is fine).
    """

    def __init__(
        self,
        paths: str | Iterable[str],
        checkpoints: Mapping[str, Checkpoint] | Iterable[Checkpoint] = (),
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_lines: int | None = DEFAULT_MAX_LINES,
        rotate_grace: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        max_line: int = MAX_LINE_BYTES,
        raw_bytes: bool = False,
    ) -> None:
        self.raw = raw_bytes  # hand out undecoded bytes (Batch.data) for a columnar parser
        self._raw_data: bytes | None = None
        self._raw_view: memoryview | None = None
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if max_line <= 0:
            raise ValueError("max_line must be positive")
        self.max_line = max_line
        if max_lines is not None and max_lines <= 0:
            raise ValueError("max_lines must be positive or None")
        self.max_bytes = max_bytes
        self.max_lines = None if raw_bytes else max_lines  # see the module docstring
        self.rotate_grace = rotate_grace
        self._clock = clock
        self.errors: dict[str, str] = {}
        raw = [paths] if isinstance(paths, str) else list(paths)
        self._patterns = [os.path.abspath(p) for p in raw]
        self._cursors: dict[str, _Cursor] = {}
        self._owners: dict[Ident, str] = {}  # identity -> path of the cursor holding it open
        self._retired: dict[Ident, Checkpoint] = {}  # files fully drained, and where
        cps = checkpoints.values() if isinstance(checkpoints, Mapping) else checkpoints
        saved = {os.path.abspath(c.path): c for c in cps}
        for pat in self._patterns:
            if not _glob.has_magic(pat):
                self._cursors.setdefault(pat, _Cursor(pat, False, saved.get(pat)))
        for path, cp in saved.items():
            if path not in self._cursors and any(
                _glob.has_magic(p) and fnmatch.fnmatchcase(path, p) for p in self._patterns
            ):
                self._cursors[path] = _Cursor(path, True, cp)

    # -- public -------------------------------------------------------------------------

    def poll(self, max_batches: int | None = 16) -> list[Batch]:
        """The batches available now, at most ``max_batches`` (``None``: all of them).

        Returns ``[]`` only when every file is caught up; when it returns a full list there
        may be more, so loop until it returns ``[]`` before sleeping.
        """
        gen = self.iter_batches()
        try:
            return list(gen if max_batches is None else islice(gen, max_batches))
        finally:
            gen.close()

    def iter_batches(self) -> Generator[Batch, None, None]:
        """Lazily the batches available now, one file after another in turn."""
        self._collect()
        self._discover()
        gens = [self._poll_cursor(c) for c in sorted(self._cursors.values(), key=_path_key)]
        while gens:
            for g in list(gens):
                try:
                    b = next(g)
                except StopIteration:
                    gens.remove(g)
                    continue
                yield b
        self._collect()

    def checkpoints(self) -> dict[str, Checkpoint]:
        """The position after the last batch handed out, per path (for status)."""
        return {p: c.ckpt for p, c in self._cursors.items() if c.ckpt is not None}

    @property
    def paths(self) -> list[str]:
        """The paths currently watched (plain paths and glob matches)."""
        return sorted(self._cursors)

    def close(self) -> None:
        for c in self._cursors.values():
            for h in (c.cur, c.old):
                if h is not None:
                    self._close(h)
            c.cur = c.old = None

    def __enter__(self) -> Tailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- discovery ----------------------------------------------------------------------

    def _discover(self) -> None:
        for pat in self._patterns:
            if not _glob.has_magic(pat):
                continue
            for p in _glob.glob(pat):
                if p in self._cursors or p.endswith(COMPRESSED_SUFFIXES):
                    continue
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if not _stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in self._owners:
                    continue
                self._cursors[p] = _Cursor(p, True)

    def _collect(self) -> None:
        for p in [p for p, c in self._cursors.items() if c.dead and c.old is None]:
            c = self._cursors.pop(p)
            if c.cur is not None:
                self._close(c.cur)
            self.errors.pop(p, None)

    # -- the per-path state machine -------------------------------------------------------

    def _poll_cursor(self, c: _Cursor) -> Iterator[Batch]:
        for _ in range(_MAX_STEPS):
            if c.dead:
                return
            if c.old is not None:
                h = c.old
                produced = False
                for b in self._read(c, h, rotated=True):
                    produced = True
                    yield b
                if c.old is not h:  # read error: it was closed
                    return
                if produced:
                    c.old_since = self._clock()  # the grace counts from its last line
                    continue  # drain once more: it may have grown while we yielded
                if self._clock() - c.old_since < self.rotate_grace:
                    return
                self._retire(h)
                c.drained = h.ident
                self._close(h)
                c.old = None
                continue
            if c.cur is None:
                self._open(c)
                if c.cur is None and c.old is None:
                    return
                continue
            h = c.cur
            try:
                st: os.stat_result | None = os.stat(c.path)
            except FileNotFoundError:
                st = None
            except OSError as e:  # cannot look at the path; keep reading what is open
                self.errors[c.path] = _describe(e)
                yield from self._read(c, h, rotated=False)
                return
            if st is None or (st.st_dev, st.st_ino) != h.ident:
                # rename-and-create or deletion: drain the open descriptor first
                h.name = self._locate(c.path, h) if st is not None else None
                c.cur, c.old, c.old_since = None, h, self._clock()
                continue
            if h.offset > 0:
                try:
                    truncated = st.st_size < h.offset or prefix_hash(h.fd, h.offset) != h.hash
                except OSError as e:
                    self._fail(c, h, e)
                    return
                if truncated:  # copytruncate (or rewritten in place): start over
                    h.offset, h.hash, h.partial_at, h.full_hash = 0, "", -1, ""
                    h.scan_at = -1
            produced = False
            for b in self._read(c, h, rotated=False):
                produced = True
                yield b
            if not produced and c.cur is h and not self._at(c.ckpt, h):
                yield self._mark(c, h)  # only the position changed: let it be committed
            return

    def _open(self, c: _Cursor) -> None:
        """Open ``c.path`` (setting ``c.cur``) and, if it replaced the checkpoint's file, find
        that one to finish first (``c.old``). Records errors instead of raising."""
        ck = c.ckpt
        want_old = ck is not None and (ck.dev, ck.inode) != c.drained
        try:
            fd = os.open(c.path, _OPEN_FLAGS)
        except FileNotFoundError:
            if want_old and ck is not None:
                self._adopt_old(c, ck)
            if c.old is None:
                if c.from_glob:
                    c.dead = True
                else:
                    self.errors[c.path] = "file not found"
            return
        except OSError as e:
            self.errors[c.path] = _describe(e)
            return
        try:
            st = os.fstat(fd)
            if not _stat.S_ISREG(st.st_mode):
                kind = "a directory" if _stat.S_ISDIR(st.st_mode) else "not a regular file"
                os.close(fd)
                self.errors[c.path] = kind
                return
            ident = (st.st_dev, st.st_ino)
            owner = self._owners.get(ident)
            if owner is not None and owner != c.path:
                os.close(fd)  # the same file is being read under another name: wait
                return
            offset = 0
            if ck is not None and self._same_file(ck, st):
                if self._matches(ck, fd, st.st_size):
                    offset = ck.offset
                # else: copytruncate or a new file reusing the inode -> from 0
            else:
                if want_old and ck is not None:
                    self._adopt_old(c, ck)
                r = self._retired.get(ident)
                if r is not None and self._matches(r, fd, st.st_size):
                    offset = r.offset
            h = _Handle(fd, st.st_dev, st.st_ino, offset, c.path, prefix_hash(fd, offset))
            c.cur = self._own(h, c.path)
            self.errors.pop(c.path, None)
        except OSError as e:
            os.close(fd)
            self.errors[c.path] = _describe(e)

    def _adopt_old(self, c: _Cursor, ck: Checkpoint) -> None:
        h = self._find_old(c.path, ck)
        if h is not None:
            c.old = self._own(h, c.path)
            c.old_since = self._clock() - self.rotate_grace  # found at (re)start: no grace

    @staticmethod
    def _same_file(ck: Checkpoint, st: os.stat_result) -> bool:
        if ck.inode != st.st_ino:
            return False
        return ck.dev == st.st_dev or (ck.offset > 0 and bool(ck.first_line_hash))

    @staticmethod
    def _matches(ck: Checkpoint, fd: int, size: int) -> bool:
        """Does the file hold, unchanged, the ``ck.offset`` bytes the checkpoint consumed?"""
        if size < ck.offset:
            return False
        if ck.offset == 0 or not ck.first_line_hash:
            return True
        return prefix_hash(fd, ck.offset) == ck.first_line_hash

    def _find_old(self, path: str, ck: Checkpoint) -> _Handle | None:
        """The checkpoint's file under another name in ``path``'s directory, at its offset."""
        try:
            it = os.scandir(os.path.dirname(path) or ".")
        except OSError:
            return None
        with it:
            for e in it:
                try:
                    if e.inode() != ck.inode or e.path == path:
                        continue
                    fd = os.open(e.path, _OPEN_FLAGS)
                except OSError:
                    continue
                try:
                    st = os.fstat(fd)
                    if (
                        _stat.S_ISREG(st.st_mode)
                        and self._same_file(ck, st)
                        and (st.st_dev, st.st_ino) not in self._owners
                        and self._matches(ck, fd, st.st_size)
                    ):
                        h = _Handle(fd, st.st_dev, st.st_ino, ck.offset, e.path)
                        h.hash = prefix_hash(fd, ck.offset)
                        return h
                except OSError:
                    pass
                os.close(fd)
        return None

    @staticmethod
    def _locate(path: str, h: _Handle) -> str | None:
        """Where a renamed file went, if it is still in the same directory."""
        try:
            with os.scandir(os.path.dirname(path) or ".") as it:
                for e in it:
                    if e.inode() == h.ino and e.path != path:
                        return e.path
        except OSError:
            pass
        return None

    # -- reading ---------------------------------------------------------------------------

    def _read(self, c: _Cursor, h: _Handle, *, rotated: bool) -> Iterator[Batch]:
        try:
            size = os.fstat(h.fd).st_size
        except OSError as e:
            self._fail(c, h, e)
            return
        if size <= h.offset or size == h.partial_at:
            return
        rotated_from = (h.name or c.path) if rotated else None
        while True:
            start = h.offset
            try:
                chunk = self._chunk(h)
                if chunk is None:
                    return
                n, lines, overlong = chunk
                end = start + n
                ck = Checkpoint(c.path, h.dev, h.ino, end, self._hash_at(h, end))
            except OSError as e:
                self._fail(c, h, e)
                return
            h.offset, h.hash = end, ck.first_line_hash
            h.scan_at = -1
            c.ckpt = ck
            self.errors.pop(c.path, None)
            data, self._raw_data = self._raw_data, None
            raw, self._raw_view = self._raw_view, None
            yield Batch(c.path, lines, start, end, ck, rotated_from, overlong, data, raw)

    def _chunk(self, h: _Handle) -> tuple[int, list[str], int] | None:
        """The next complete lines at ``h.offset`` (their byte length, the lines, how many
        of them are OVERLONG markers), or None."""
        pos = h.offset
        if h.scan_at > pos:  # still inside an overlong line: go on scanning for its end
            return self._skip(h, h.scan_at)
        buf = self._window(h.fd, pos) if self.raw else os.pread(h.fd, self.max_bytes, pos)
        if not buf:
            return None
        n = buf.rfind(b"\n") + 1
        if n == 0:
            if len(buf) < self.max_bytes and len(buf) <= self.max_line:
                h.partial_at = pos + len(buf)
                return None
            return self._long(h, buf)
        if self.max_lines is not None and buf.count(b"\n", 0, n) > self.max_lines:
            rest = buf.split(b"\n", self.max_lines)[-1]
            n = len(buf) - len(rest)
        self._raw_view = memoryview(buf)[:n]
        if self.raw:
            self._raw_data = buf[:n] if n < len(buf) else buf
            return n, [], 0
        lines = str(memoryview(buf)[:n], "utf-8", "replace").split("\n")
        lines.pop()  # the empty string after the last newline
        # A decoded line has at most as many characters as bytes (and at least a quarter):
        # only when some line could be overlong, measure the lines in bytes.
        if n > self.max_line and max(map(len, lines)) * 4 > self.max_line:
            return self._cut_overlong(buf[:n])
        return n, lines, 0

    def _window(self, fd: int, pos: int) -> bytes:
        """The bytes at ``pos``, up to ``max_bytes``, for a raw batch: where the window's
        last newline is in its last :data:`PROBE_BYTES` (every window of a backlog but its
        last), read up to that newline and no further, so the batch's bytes need no copy
        cut out of a bigger read (8 MB a batch, and its page faults). Else all of it."""
        if self.max_bytes > 2 * PROBE_BYTES:
            tail = os.pread(fd, PROBE_BYTES, pos + self.max_bytes - PROBE_BYTES)
            k = tail.rfind(b"\n")
            if len(tail) == PROBE_BYTES and k >= 0:
                n = self.max_bytes - PROBE_BYTES + k + 1
                buf = os.pread(fd, n, pos)
                if len(buf) == n and buf.endswith(b"\n"):  # else the file changed: read again
                    return buf
        return os.pread(fd, self.max_bytes, pos)

    def _cut_overlong(self, buf: bytes) -> tuple[int, list[str], int]:
        """Complete lines of ``buf`` (ending in a newline), overlong ones as markers."""
        limit = self.max_line
        parts = buf.split(b"\n")
        parts.pop()
        lines: list[str] = []
        overlong = 0
        for part in parts:
            if len(part) > limit:
                lines.append(OVERLONG.format(len(part)))
                overlong += 1
            else:
                lines.append(str(part, "utf-8", "replace"))
        return len(buf), lines, overlong

    def _long(self, h: _Handle, buf: bytes) -> tuple[int, list[str], int] | None:
        """``buf`` (at ``h.offset``) holds no newline: one long line, returned whole if its
        newline comes within ``max_line`` bytes, else skipped (see :meth:`_skip`)."""
        pos = h.offset
        limit = self.max_line
        have = len(buf)
        parts = [buf]
        while have <= limit:
            more = os.pread(h.fd, min(self.max_bytes, limit + 1 - have), pos + have)
            if not more:
                h.partial_at = pos + have
                return None
            i = more.find(b"\n")
            if i >= 0:
                if have + i > limit:
                    return have + i + 1, [OVERLONG.format(have + i)], 1
                parts.append(more[:i])
                line = b"".join(parts)
                return len(line) + 1, [str(line, "utf-8", "replace")], 0
            parts.append(more)
            have += len(more)
        del parts, buf
        return self._skip(h, pos + have)

    def _skip(self, h: _Handle, at: int) -> tuple[int, list[str], int] | None:
        """Scan from ``at`` for the newline ending the overlong line at ``h.offset``,
        ``SCAN_BYTES`` at a time, keeping none of it; None (partial) if it has none yet."""
        pos = h.offset
        while True:
            more = os.pread(h.fd, SCAN_BYTES, at)
            if not more:
                h.partial_at = h.scan_at = at
                return None
            i = more.find(b"\n")
            if i >= 0:
                end = at + i + 1
                return end - pos, [OVERLONG.format(end - 1 - pos)], 1
            at += len(more)

    def _hash_at(self, h: _Handle, offset: int) -> str:
        if offset >= HASH_BYTES:
            if not h.full_hash:
                h.full_hash = prefix_hash(h.fd, HASH_BYTES)
            return h.full_hash
        return prefix_hash(h.fd, offset)

    def _mark(self, c: _Cursor, h: _Handle) -> Batch:
        h.hash = self._hash_at(h, h.offset)
        ck = Checkpoint(c.path, h.dev, h.ino, h.offset, h.hash)
        c.ckpt = ck
        return Batch(c.path, [], h.offset, h.offset, ck, None)

    @staticmethod
    def _at(ck: Checkpoint | None, h: _Handle) -> bool:
        return ck is not None and (ck.dev, ck.inode, ck.offset) == (h.dev, h.ino, h.offset)

    # -- handles ---------------------------------------------------------------------------

    def _own(self, h: _Handle, path: str) -> _Handle:
        self._owners[h.ident] = path
        return h

    def _close(self, h: _Handle) -> None:
        self._owners.pop(h.ident, None)
        with contextlib.suppress(OSError):
            os.close(h.fd)

    def _retire(self, h: _Handle) -> None:
        self._retired[h.ident] = Checkpoint(h.name or "", h.dev, h.ino, h.offset, h.hash)

    def _fail(self, c: _Cursor, h: _Handle, e: OSError) -> None:
        """A read error: report it, close the file; the next poll reopens from ``c.ckpt``."""
        self.errors[c.path] = _describe(e)
        self._close(h)
        if c.cur is h:
            c.cur = None
        if c.old is h:
            c.old = None


def decode_lines(data: bytes, max_line: int = MAX_LINE_BYTES) -> tuple[list[str], int]:
    """The lines of ``data`` (complete lines, ending in a newline) and how many of them are
    OVERLONG markers: exactly what a non-raw Tailer puts in ``Batch.lines``/``overlong``."""
    lines = str(data, "utf-8", "replace").split("\n")
    lines.pop()
    if len(data) > max_line and max(map(len, lines)) * 4 > max_line:
        parts = data.split(b"\n")
        parts.pop()
        out: list[str] = []
        overlong = 0
        for part in parts:
            if len(part) > max_line:
                out.append(OVERLONG.format(len(part)))
                overlong += 1
            else:
                out.append(str(part, "utf-8", "replace"))
        return out, overlong
    return lines, 0


def line_pieces(
    data: bytes, max_line: int = MAX_LINE_BYTES, max_lines: int = DEFAULT_MAX_LINES
) -> Iterator[tuple[list[str], int]]:
    """:func:`decode_lines` of ``data`` in consecutive pieces of at most ``max_lines``
    lines (the lines of a raw batch, for the line parser: bounded memory however short its
    lines are)."""
    if data.count(b"\n") <= max_lines:
        yield decode_lines(data, max_line)
        return
    start = 0
    while start < len(data):
        end = start
        for _ in range(max_lines):
            end = data.index(b"\n", end) + 1
            if end == len(data):
                break
        yield decode_lines(data[start:end], max_line)
        start = end


def _path_key(c: _Cursor) -> str:
    return c.path
