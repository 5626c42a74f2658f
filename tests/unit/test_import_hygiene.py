"""Headless means headless: non-TUI entry points never import Textual (fast over SSH)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from opsconsole.cli.app import hoist_global_options, app
try:
    app(args=hoist_global_options({args!r}), prog_name="opsconsole", standalone_mode=False)
except SystemExit:
    pass
except Exception as e:  # a usage error is fine here; we only look at the imports
    print("error:", type(e).__name__, file=sys.stderr)
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print("TEXTUAL" if bad else "CLEAN")
"""


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--help"],
        ["ingest", "--help"],
        ["report", "--format", "json"],
        ["check", "192.0.2.1", "--json"],
        ["config", "show"],
        ["status"],
        ["alerts", "list"],
        ["simulate", "--help"],
    ],
)
def test_command_does_not_import_textual(args: list[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    code = PROBE.format(args=["--db", db, *args])
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.strip().endswith("CLEAN"), out.stdout + out.stderr
