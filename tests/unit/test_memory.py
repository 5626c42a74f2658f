"""opsconsole/memory.py: the allocator settings take on glibc, and an operator's own
Arrow pool choice is kept (each case in a fresh interpreter: the settings are global)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CODE = (
    "import os, sys; from opsconsole.memory import tune_memory; ok = tune_memory();"
    "import pyarrow as pa; print(ok, os.environ['ARROW_DEFAULT_MEMORY_POOL'],"
    " pa.default_memory_pool().backend_name)"
)


def run(pool: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_settings_take_and_arrow_uses_the_c_library() -> None:
    pytest.importorskip("pyarrow")
    assert run(None) == ["True", "system", "system"]


def test_an_operators_arrow_pool_is_kept() -> None:
    pytest.importorskip("pyarrow")
    assert run("mimalloc")[1:] == ["mimalloc", "mimalloc"]


TRIM = """
from opsconsole.memory import trim
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
blocks = [bytes(1000) for _ in range(300_000)]  # ~300 MB of small chunks (over TRIM_ABOVE)
keep = bytes(1000)  # above them: the heap cannot shrink from its top
del blocks
before = rss()
trim()
print(before, rss())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_trim_hands_freed_memory_back() -> None:
    out = subprocess.run([sys.executable, "-c", TRIM], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    before, after = map(int, out.stdout.split())
    assert before - after > 100, (before, after)  # MB


def test_trim_leaves_a_small_process_alone() -> None:
    code = TRIM.replace("range(300_000)", "range(50_000)")  # ~50 MB: under TRIM_ABOVE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    before, after = map(int, out.stdout.split())
    assert abs(before - after) < 10, (before, after)
