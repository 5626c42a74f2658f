"""Process-wide allocator settings, applied once at start-up (``cli.app.main``).

A backlog reading parses 8 MB batches on a thread (``asyncio.to_thread``) while the event
loop commits and a pipe thread decodes the worker's frames (core/engine/backlog.py). With
glibc's defaults each of those threads gets a malloc arena of its own, and the memory freed
in one is not reused by the next allocation in another: the reader's peak RSS rose by
~40 MB on a Postfix backlog (measured: bench/RESULTS.md, "ingest postfix ... peak RSS").
Two arenas keep it flat at the same speed. (A fixed mmap threshold as well, 1 to 16 MiB,
saved no more memory and cost 5-10% in page faults.) Elsewhere (musl, macOS) the C library
is left alone.

Arrow (the PowerMTA columnar path) allocates from mimalloc by default, which keeps a
process's freed pages: the C library's malloc, with the settings above, gave ~50 MB less
peak RSS per process on a PowerMTA backlog. Only the environment variable reaches Arrow's
compute kernels (``pyarrow.set_memory_pool`` does not), so it is set, unless the operator
set it, before pyarrow is first imported.

Even so, what a committed batch freed stays in the arenas (glibc trims only the top of
the main heap): :func:`trim` hands it back after a commit of a backlog reading once the
process holds over 200 MB, which kept the reader of a 900-IP PowerMTA file at ~240 MB
instead of 275-306 MB. Not after every commit: the page faults that follow cost 8% there.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2


_LIBC: ctypes.CDLL | None = None


def _glibc() -> ctypes.CDLL | None:
    global _LIBC
    if _LIBC is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None)  # the symbols already loaded: the C library's among them
        except OSError:
            return None
        if hasattr(libc, "gnu_get_libc_version"):  # musl: mallopt is a no-op stub
            _LIBC = libc
    return _LIBC


TRIM_ABOVE = 200 << 20  # bytes resident before trim() works


def _resident() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 1 << 62  # unknown: trim


def trim() -> None:
    """Return the free memory of every malloc arena to the kernel (glibc; else nothing),
    once the process holds more than :data:`TRIM_ABOVE`: each trim costs page faults."""
    libc = _glibc()
    if libc is not None and _resident() > TRIM_ABOVE:
        libc.malloc_trim(0)


def tune_memory() -> bool:
    """Apply the settings above; True when the C library's took (glibc)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, ARENAS))
