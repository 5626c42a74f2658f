"""``opsconsole undo`` as a real subprocess: ``--dry-run`` shows the change and changes
nothing; the undo applies; an unknown, irreversible or already undone id is one line on
stderr and exit 2. The ids are the ``id`` column of ``opsconsole audit``."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.integration.conftest import Harness

IP = "10.9.0.1"
ALICE = {"USER": "alice"}


def one_line_exit_2(res, text: str) -> None:  # type: ignore[no-untyped-def]
    assert res.returncode == 2 and res.stdout == "", (res.returncode, res.stdout)
    assert res.stderr == f"opsconsole: {text}\n"


def test_undo_dry_run_then_undo_then_refusals(harness: Harness) -> None:
    h = harness
    h.write_config()
    h.cli("pools", "add", "bulk", IP, "--create")
    h.cli("pools", "remove", "bulk", IP, "--reason", "listing")
    audit = h.audit()
    [rm] = [a for a in audit if a["action"] == "remove"]
    table = h.cli("audit").stdout.splitlines()
    assert table[0].split()[:2] == ["ID", "AT"] and any(
        line.split()[0] == str(rm["id"]) for line in table[1:]
    )
    dry = h.cli("undo", str(rm["id"]), "--dry-run", env=ALICE).stdout.splitlines()
    why = f"undo of {rm['id']}"
    assert dry[0] == f"would {why} (remove {IP}): restored by alice: {why}; hold-off 30m"
    assert f"member bulk {IP}: active at weight 100" in dry
    assert f"hold-off bulk {IP}: 30m" in dry
    assert h.member_row("bulk", IP)["state"] == "removed"  # type: ignore[index]
    res = h.cli("undo", str(rm["id"]), env=ALICE)
    assert res.stdout == f"{why} (remove {IP}): restored by alice: {why}; hold-off 30m\n"
    assert h.member_row("bulk", IP)["state"] == "active"  # type: ignore[index]
    [row] = h.sql("SELECT until FROM restore_holdoff WHERE ip = ?", (IP,))
    assert abs(row[0] - (time.time() + 1800)) < 120
    report = json.loads(h.cli("report", "--format", "json").stdout)
    assert all("holdoff_until" in r for r in report["ips"])
    one_line_exit_2(
        h.cli("undo", str(rm["id"]), ok=False),
        f"action {rm['id']} was already undone by alice",
    )
    one_line_exit_2(h.cli("undo", "424242", ok=False), "no action with id 424242")
    one_line_exit_2(h.cli("undo", "424242", "--dry-run", ok=False), "no action with id 424242")
    one_line_exit_2(h.cli("undo", "abc", ok=False), "action id must be a number, got 'abc'")
    h.cli("pools", "add", "bulk", "10.9.0.2")
    add = next(a for a in h.audit() if a["action"] == "pool_add")  # newest first
    one_line_exit_2(
        h.cli("undo", str(add["id"]), ok=False), f"action {add['id']} (pool_add) cannot be undone"
    )
