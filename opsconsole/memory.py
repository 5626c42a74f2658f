"""Process-wide allocator settings, applied once at start-up (``cli.app.main``).

A backlog reading parses 8 MB batches on a thread (``asyncio.to_thread``) while the event
loop commits and a pipe thread decodes the worker's frames (core/engine/backlog.py). With
glibc's defaults each thread gets a malloc arena of its own, and a freed 8 MB buffer lands
below the dynamic mmap threshold, so freed memory stays mapped in arenas the next
allocation does not reuse: the reader's peak RSS rose by ~50 MB on a Postfix backlog
(measured: bench/RESULTS.md, "ingest postfix ... peak RSS"). Two arenas and a fixed 1 MiB
mmap threshold (big buffers go straight back to the kernel on free) keep it flat at the
same speed. Elsewhere (musl, macOS) the C library is left alone.

Arrow (the PowerMTA columnar path) allocates from mimalloc by default, which keeps a
process's freed pages: the C library's malloc, with the settings above, gave ~50 MB less
peak RSS per process on a PowerMTA backlog. Only the environment variable reaches Arrow's
compute kernels (``pyarrow.set_memory_pool`` does not), so it is set, unless the operator
set it, before pyarrow is first imported.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 1 << 20


def tune_memory() -> bool:
    """Apply the settings above; True when the C library's took (glibc)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded: the C library's among them
        mallopt = libc.mallopt
        if not hasattr(libc, "gnu_get_libc_version"):  # musl: mallopt is a no-op stub
            return False
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, ARENAS)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
