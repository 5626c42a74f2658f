"""Issue 18.1 (display half): text from a log is sanitized wherever it is shown.

A diagnostic carrying a set-window-title sequence and a subuser that looks like Rich
markup (``[/x]``) go through ingest into every report format: nothing raw reaches the
output, and the table renderer does not die on the markup.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

TITLE = "\x1b]0;pwned\x07"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "json"])
def test_hostile_text_never_reaches_the_output_raw(tmp_path: Path, fmt: str) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'd.db'}"
    src = tmp_path / "ev.jsonl"
    now = time.time()
    rows = [
        {"ts": now - 60 + i, "kind": "bounced", "ip": "192.0.2.50", "subuser": "[/x]",
         "status": "5.7.1", "diag": f"550 5.7.1 blocked {TITLE} \x1b[31mred\x1b[0m"}
        for i in range(12)
    ]  # fmt: skip
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run("--db", db, "ingest", str(src), "--format", "jsonl").returncode == 0
    out = run("--db", db, "report", "--format", fmt, "--window", "1h")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert "[/x]" in out.stdout  # shown as text, not read as markup
