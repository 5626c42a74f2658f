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
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2


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
    return bool(mallopt(M_ARENA_MAX, ARENAS))
