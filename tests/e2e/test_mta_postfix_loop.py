"""Issue 12 acceptance, closed loop on a real Postfix: decisions land in main.cf.

Three smtp transports px5/px6/px7 bound to 127.0.0.5-7 form pool ``bulk``, written by
opsconsole as a ``randmap:{...}`` into ``transport_maps`` (``[mta] kind = "postfix"``).
The sink refuses 30% of what reaches it from 127.0.0.7. The engine removes .7; its journal
runs ``postconf -e`` + ``postfix reload``; the next batch reaches the sink only from .5/.6.
A restore by hand puts .7 back; ``mta release`` puts back Postfix's original value. The
audit holds each command with its exit code.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.postfix_testbed import POSTCONF, POSTFIX, SLASH_SYSLOG_NAMES, PostfixTestbed
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.e2e

PX = {"px5": "127.0.0.5", "px6": "127.0.0.6", "px7": "127.0.0.7"}
BAD = "127.0.0.7"
SENDER = "d@s5.test"  # not in sender_transport: routed by default_transport


def sh(*args: str) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def opsconsole(cfg: Path, db: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "opsconsole", "--db", db, "--config", str(cfg), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    return proc.stdout


def default_transport() -> str:
    """The pool's parameter. Postfix 3.7 takes ``default_transport`` literally (a randmap
    there is a transport named "randmap"), so the pool goes to ``transport_maps``, where a
    ``randmap:{...}`` table answers every recipient with a random member."""
    return sh(POSTCONF, "-h", "transport_maps")


def audit_rows(db_path: Path, action: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT action, reason, detail FROM audit WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    return [{"action": a, "reason": r, "detail": json.loads(d)} for a, r, d in rows]


@pytest.fixture
def px_testbed(postfix_testbed: PostfixTestbed) -> Iterator[PostfixTestbed]:
    tb = postfix_testbed
    tb.restart_with(SLASH_SYSLOG_NAMES)
    for name, ip in PX.items():
        sh(POSTCONF, "-M", f"{name}/unix={name} unix - - n - - smtp"
           f" -o smtp_bind_address={ip} -o syslog_name=postfix/{name}")  # fmt: skip
    sh(POSTFIX, "reload")
    original = tb.sink.handle_RCPT
    seen = {"n": 0}

    async def refusing(server: Any, session: Any, envelope: Any, address: str, opts: Any) -> str:
        if str(session.peer[0]) == BAD and not address.startswith("d@"):
            seen["n"] += 1
            if seen["n"] % 10 in (1, 4, 7):  # 3 of every 10: 30%
                tb.sink._counts(BAD).rejected += 1
                return f"550 5.7.1 <{address}>: refused from {BAD}"
        return await original(server, session, envelope, address, opts)

    tb.sink.handle_RCPT = refusing  # type: ignore[method-assign]
    try:
        yield tb
    finally:
        tb.sink.handle_RCPT = original  # type: ignore[method-assign]
        subprocess.run([POSTCONF, "-X", "transport_maps"], check=False)
        for name in PX:
            subprocess.run([POSTCONF, "-MX", f"{name}/unix"], check=False)
        subprocess.run([POSTFIX, "reload"], check=False)


def send(tb: PostfixTestbed, n: int, tag: str) -> None:
    tb.send_many((SENDER, f"good-{tag}-{i:04d}@dest.test") for i in range(n))
    tb.wait_quiet(timeout=float(os.environ.get("PX_QUIET", "120")))


def test_engine_removal_reaches_postfix_and_restore_puts_it_back(
    px_testbed: PostfixTestbed, tmp_path: Path
) -> None:
    tb = px_testbed
    ip_map = ", ".join(f'"postfix/{n}" = "{ip}"' for n, ip in PX.items())
    # A transport_maps result with an empty nexthop means the recipient domain, so each
    # member's transport names the sink as its nexthop.
    hop = f"[127.0.0.1]:{tb.sink_port}"
    members = ", ".join(
        f'{{ ip = "{ip}", weight = 100, transport = "{n}:{hop}" }}' for n, ip in PX.items()
    )

    def rmap(*names: str) -> str:
        return "randmap:{" + ",".join(f"{n}:{hop}" for n in names) + "}"

    cfg = tmp_path / "opsconsole.toml"
    cfg.write_text(
        '[monitor]\ncheck_interval = "1s"\n'
        f'[[sources]]\nname = "postfix"\nformat = "postfix"\npath = "{tb.log_path}"\n'
        f"ip_map = {{ {ip_map} }}\n"
        f'[[pools]]\nname = "bulk"\nmembers = [{members}]\n'
        '[mta]\nkind = "postfix"\nmin_interval = "0s"\npath = "/usr/sbin:/usr/bin:/bin"\n'
        '[mta.postfix]\npool_parameters = { bulk = "transport_maps" }\n'
    )
    db_path = tmp_path / "loop.db"
    db = f"sqlite+aiosqlite:///{db_path}"

    # Dry run first: exactly the postconf and reload an apply would run, nothing changed.
    before = default_transport()
    plan = opsconsole(cfg, db, "pools", "apply", "--dry-run")
    assert f"run postconf -e 'transport_maps={rmap('px5', 'px6', 'px7')}'" in plan, plan
    assert "run postfix reload" in plan
    assert default_transport() == before == ""
    assert opsconsole(cfg, db, "pools", "apply").strip() == "applied"
    assert default_transport() == rmap("px5", "px6", "px7")

    engine = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "--db", db, "--config", str(cfg), "--no-ui"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        send(tb, 150, "b1")
        first = tb.truth()
        assert first[BAD].rejected > 0 and {"127.0.0.5", "127.0.0.6"} <= set(first)
        wait_for(lambda: default_transport() == rmap("px5", "px6"), "px7 out of main.cf", 60)
        # main.cf changes before the reload and the audit row: stop the engine only once
        # its apply is done (a SIGTERM mid-apply leaves the row to the next runner, which
        # coalesces it with the restore's below into one apply).
        wait_for(lambda: len(audit_rows(db_path, "mta.apply")) >= 2, "the removal audited", 60)
    finally:
        engine.send_signal(signal.SIGTERM)
        _, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err
    assert "Traceback" not in err

    time.sleep(2)  # reloaded daemons replace the old ones
    tb.reset_truth()
    send(tb, 60, "b2")
    second = tb.truth()
    assert set(second) <= {"127.0.0.5", "127.0.0.6"}, second
    assert sum(c.accepted for c in second.values()) == 60

    # A restore by hand (no engine running: the CLI runs the journal) puts .7 back.
    opsconsole(cfg, db, "pools", "restore", "bulk", BAD)
    assert default_transport() == rmap("px5", "px6", "px7")

    applies = audit_rows(db_path, "mta.apply")
    assert len(applies) >= 3 and all(a["reason"] == "ok" for a in applies), applies
    for a in applies:
        steps = a["detail"]["steps"]
        assert [s["step"].split(" ")[1] for s in steps] == ["postconf", "postfix"]
        assert all(s["returncode"] == 0 and s["ok"] for s in steps), steps
    assert f"transport_maps={rmap('px5', 'px6')}" in applies[-2]["detail"]["steps"][0]["step"]

    # Release puts back what Postfix had before opsconsole's first write.
    out = opsconsole(cfg, db, "mta", "release")
    assert "released" in out
    assert default_transport() == ""
