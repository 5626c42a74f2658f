"""The executor: atomic writes, killing timeouts, and rollback so the MTA is never
half-configured. Real processes, real files, real ``postconf`` on a temporary directory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from opsconsole.core.mta.apply import Runner, apply, outcome_json
from opsconsole.core.mta.base import Http, MemberView, Plan, PoolView, RemoveFile, Run, WriteFile
from opsconsole.core.mta.postfix import PostfixAdapter, PostfixConfig
from tests.helpers.mta_standins import postfix_dir, recorder
from tests.helpers.waiting import wait_for


def test_describe_lines_are_exact() -> None:
    digest = hashlib.sha256(b"abc\n").hexdigest()[:12]
    assert WriteFile("/etc/pmta/pools.conf", "abc\n").describe() == (
        f"write /etc/pmta/pools.conf (4 bytes, mode 0644, sha256 {digest})"
    )
    assert WriteFile("/x", "", 0o600).describe() == (
        "write /x (0 bytes, mode 0600, sha256 e3b0c44298fc)"
    )
    assert RemoveFile("/tmp/x").describe() == "remove /tmp/x"
    assert Run(("pmta", "reload")).describe() == "run pmta reload"
    assert Run(("pmta", "disable", "source", "1.2.3.4", "a b"), ("pmta", "enable")).describe() == (
        "run pmta disable source 1.2.3.4 'a b' (undo: pmta enable)"
    )
    post = Http(
        "POST",
        "http://127.0.0.1:8000/x",
        {"reason": "r", "name": "n"},
        Http("DELETE", "http://127.0.0.1:8000/x", {}),
        rollback_takes_id=True,
    )
    assert post.describe() == (
        'http POST http://127.0.0.1:8000/x {"name":"n","reason":"r"} '
        "(undo: DELETE http://127.0.0.1:8000/x {} +id)"
    )
    assert Http("GET", "http://127.0.0.1:8000/x").describe() == "http GET http://127.0.0.1:8000/x"
    plan = Plan((Run(("true",)),), ("bulk",), ("a note",), None)
    assert plan.describe() == [
        "run true",
        "guard: pool bulk has no active member; kept its last one",
        "note: a note",
    ]


async def test_failing_reload_rolls_back_the_postconf_change(tmp_path: Path) -> None:
    postconf, conf = postfix_dir(tmp_path)
    subprocess.run(
        [postconf, "-c", str(conf), "-e", "default_transport=randmap:{px1:}"], check=True
    )
    reload = recorder(tmp_path / "bin", "reload", fail_on="reload")
    cfg = PostfixConfig(
        {"bulk": "default_transport"},
        config_dir=str(conf),
        postconf=postconf,
        reload_command=(sys.executable, str(reload.path), "reload"),
    )
    adapter = PostfixAdapter(cfg, Runner())
    pool = PoolView("bulk", (MemberView("203.0.113.5", 100, transport="px5"),))
    plan = adapter.plan_pools([pool], await adapter.read_state())
    result = await apply(plan.steps, Runner())

    assert not result.ok
    assert result.error == f"step 2 failed: run {sys.executable} {reload.path} reload"
    assert [o.ok for o in result.steps] == [True, False]
    assert result.steps[1].returncode == 3
    assert "stand-in told to fail" in result.steps[1].output_tail
    assert [o.describe for o in result.rolled_back] == [
        f"undo: run {postconf} -c {conf} -e 'default_transport=randmap:{{px1:}}'"
    ]
    assert result.rolled_back[0].ok
    out = subprocess.run(
        [postconf, "-c", str(conf), "-h", "default_transport"], capture_output=True, text=True
    )
    assert out.stdout.strip() == "randmap:{px1:}"
    assert '"ok": false' in outcome_json(result)


HANG = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(str(child.pid))
print("started", flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_a_hung_command_and_its_children_are_killed_at_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    step = Run((sys.executable, "-c", HANG, str(pidfile)), None, timeout=2.0)
    result = await apply([step], Runner())
    assert not result.ok
    outcome = result.steps[0]
    assert outcome.returncode is None
    assert outcome.output_tail.endswith("timed out after 2s")
    assert "started" in outcome.output_tail
    grandchild = int(pidfile.read_text())
    wait_for(lambda: not _alive(grandchild), "the grandchild to be killed", timeout=10)


async def test_a_failed_write_restores_the_files_already_written(tmp_path: Path) -> None:
    a = tmp_path / "pools.conf"
    a.write_text("old pools\n")
    a.chmod(0o640)
    fresh = tmp_path / "fresh.conf"
    steps = [
        WriteFile(str(a), "new pools\n"),
        WriteFile(str(fresh), "new file\n"),
        WriteFile(str(tmp_path / "missing-dir" / "x.conf"), "never\n"),
    ]
    result = await apply(steps, Runner())
    assert not result.ok
    assert [o.ok for o in result.steps] == [True, True, False]
    assert "No such file or directory" in result.steps[2].output_tail
    assert a.read_text() == "old pools\n"
    assert a.stat().st_mode & 0o777 == 0o640
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pools.conf"]
    assert [o.describe.split(" (")[0] for o in result.rolled_back] == [
        f"undo: remove {fresh}",
        f"undo: write {a}",
    ]


async def test_a_write_that_cannot_replace_leaves_the_target_and_no_temp_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "conf.d"
    target.mkdir()
    (target / "keep").write_text("x")
    result = await apply([WriteFile(str(target), "content\n")], Runner())
    assert not result.ok
    assert (target / "keep").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf.d"]


async def test_a_missing_command_fails_cleanly(tmp_path: Path) -> None:
    result = await apply([Run((str(tmp_path / "nope"),))], Runner())
    assert not result.ok
    assert result.steps[0].returncode is None
    assert "cannot run" in result.steps[0].output_tail
