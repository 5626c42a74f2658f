"""Headless means headless: non-TUI entry points never import Textual (fast over SSH).

Each probe runs one real command in a fresh interpreter and reports the modules it ended
up importing; a command that crashes fails the test (a crash would import nothing and look
clean). The positive control proves the probe can see Textual when it is imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from opsconsole.cli.app import hoist_global_options, app
code = 0
try:
    app(args=hoist_global_options({args!r}), prog_name="opsconsole", standalone_mode=False)
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 1
except Exception as e:
    code = type(e).__name__
{extra}
textual = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(json.dumps({{"code": code, "textual": len(textual)}}))
"""

COMMANDS = [
    ["report", "--help"],
    ["report", "--format", "json"],
    ["report", "--format", "csv"],
    ["ingest", "--help"],
    ["check", "192.0.2.1", "--json"],
    ["config", "show"],
    ["config", "check"],
    ["status", "--json"],
    ["alerts", "list"],
    ["audit"],
    ["pools", "list"],
    ["warmup", "list"],
    ["warmup", "history", "192.0.2.1"],
    ["simulate", "--help"],
]


def probe(args: list[str], tmp_path: Path, extra: str = "") -> dict[str, object]:
    db = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    code = PROBE.format(args=["--db", db, *args], extra=extra)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_command_does_not_import_textual(args: list[str], tmp_path: Path) -> None:
    result = probe(args, tmp_path)
    assert result["code"] == 0, f"{' '.join(args)} failed: {result}"
    assert result["textual"] == 0


def test_positive_control_the_console_imports_textual(tmp_path: Path) -> None:
    """The same probe sees Textual once the console's module is loaded."""
    result = probe(["report", "--help"], tmp_path, extra="import opsconsole.tui.app")
    assert result["code"] == 0
    assert result["textual"] > 0
