"""The engine against a real Postfix (issue 5.1): attribution, alert, removal, hook, webhook.

A real Postfix (``postfix_testbed``: three smtp transports bound to 127.0.0.2-4 relaying to an
aiosmtpd sink that keeps the truth per source address) writes its log; ``opsconsole --no-ui``
follows it with ``ip_map`` from the transports' syslog names. The sink's own counts are the
truth the report must equal per IP. 127.0.0.4 gets ~25% refused recipients: its bounce alert
opens, it is removed from its pool, the action hook runs and the webhook reaches a local
receiver. A second test reconfigures Postfix with dash-style syslog names
(``postfix-out2/smtp``) and checks ``opsconsole ingest --ip-map`` attributes that log exactly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.postfix_testbed import (
    DASH_SYSLOG_NAMES,
    DEFAULT_SMTP_IP,
    SLASH_SYSLOG_NAMES,
    PostfixTestbed,
)
from tests.helpers import http_receiver as receivers
from tests.helpers.http_receiver import HttpReceiver
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.e2e

http_receiver = receivers.http_receiver
BAD_IP = "127.0.0.4"
PLAN = {"ip2": (120, 0, 2), "ip3": (120, 3, 2), "ip4": (120, 30, 3)}  # n, bad, full


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def opsconsole(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "opsconsole", *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def report(db: str, since: float) -> dict[str, Any]:
    out = opsconsole("--db", db, "report", "--format", "json",
                     "--since", iso(since - 600), "--until", iso(time.time() + 600))  # fmt: skip
    return json.loads(out.stdout)


def per_ip(rep: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """ip -> (delivered, bounced, deferred), summed over subusers (none for Postfix)."""
    out: dict[str, tuple[int, int, int]] = {}
    for r in rep["ips"]:
        d, b, t = out.get(r["ip"], (0, 0, 0))
        out[r["ip"]] = (d + r["delivered"], b + r["bounced"], t + r["deferred"])
    return out


def sink_truth(tb: PostfixTestbed) -> tuple[dict[str, tuple[int, int, int]], int]:
    """Per mapped IP (accepted, rejected, deferred attempts) and the notices' deliveries."""
    truth = tb.truth()
    mapped = {
        t.ip: (truth[t.ip].accepted, truth[t.ip].rejected, truth[t.ip].deferred_attempts)
        for t in tb.transports.values()
        if t.ip in truth
    }
    notices = truth[DEFAULT_SMTP_IP].accepted if DEFAULT_SMTP_IP in truth else 0
    return mapped, notices


def send_plan(tb: PostfixTestbed, plan: dict[str, tuple[int, int, int]], tag: str) -> None:
    pairs = [
        pair
        for transport, (n, bad, full) in plan.items()
        for pair in tb.mix(transport, n, bad=bad, full=full, tag=tag)
    ]
    tb.send_many(pairs)
    tb.wait_quiet(timeout=90)


@pytest.fixture
def slash_testbed(postfix_testbed: PostfixTestbed) -> Iterator[PostfixTestbed]:
    postfix_testbed.restart_with(SLASH_SYSLOG_NAMES)  # a fresh log and truth
    yield postfix_testbed


def test_engine_follows_real_postfix_attributes_exactly_and_acts_on_the_bad_ip(
    slash_testbed: PostfixTestbed, http_receiver: HttpReceiver, tmp_path: Path
) -> None:
    tb = slash_testbed
    calls = tmp_path / "hook-calls.jsonl"
    recorder = (
        f"import json, sys; open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')"
    )
    hook = json.dumps([sys.executable, "-c", recorder, "{action}", "{ip}", "{pool}", "{reason}"])
    ip_map = ", ".join(f'"{name}" = "{ip}"' for name, ip in tb.syslog_map.items())
    members = ", ".join(f'{{ ip = "{t.ip}" }}' for t in tb.transports.values())
    cfg = tmp_path / "opsconsole.toml"
    cfg.write_text(
        '[monitor]\ncheck_interval = "1s"\n'
        f'[[sources]]\nname = "postfix"\nformat = "postfix"\npath = "{tb.log_path}"\n'
        f"ip_map = {{ {ip_map} }}\n"
        f'[[pools]]\nname = "loopback"\nmembers = [{members}]\n'
        f'[[notify]]\nkind = "webhook"\nurl = "{http_receiver.url("/alerts")}"\n'
        f'[[actions]]\non = ["remove"]\nrun = {hook}\ntimeout = "10s"\n'
    )
    db = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    started = time.time()
    engine = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "--db", db, "--config", str(cfg), "--no-ui"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        send_plan(tb, PLAN, "engine")
        truth, notices = sink_truth(tb)
        assert truth[BAD_IP][1] == PLAN["ip4"][1]  # the sink refused what we planned

        # Every delivery and bounce the sink saw, attributed to the IP that sent it.
        rep = wait_for(
            lambda: (r := report(db, started)) and per_ip(r) == truth and r,
            f"the report to equal the sink's truth {truth}",
        )
        assert rep["unattributed"]["delivered"] == notices  # notices: plain postfix/smtp
        assert rep["unattributed"]["bounced"] == 0
        (src,) = rep["ingest"]["sources"]
        assert src["malformed"] == 0

        # The bad IP: alert opened, removed from its pool, hook run, webhook posted.
        alerts = [a for a in rep["alerts"] if a["ip"] == BAD_IP and a["state"] == "firing"]
        assert alerts and alerts[0]["severity"] == "critical", rep["alerts"]
        members_now = {m["ip"]: m["state"] for p in rep["pools"] for m in p["members"]}
        assert members_now[BAD_IP] == "removed"
        assert members_now["127.0.0.2"] == "active"
        got = wait_for(lambda: calls.exists() and calls.read_text().splitlines(), "the hook")
        hook_calls = [json.loads(line) for line in got]
        assert [c[:3] for c in hook_calls] == [["remove", BAD_IP, "loopback"]]
        # The alert may open at a lower severity while the log is still being read; its
        # escalation to critical is notified again.
        posts = wait_for(
            lambda: [
                r.json
                for r in http_receiver.posts
                if r.json and r.json["ip"] == BAD_IP and r.json["severity"] == "critical"
            ],
            "the critical webhook for the bad IP",
        )
        assert posts[-1]["alert_id"] == alerts[0]["id"]
        assert posts[-1]["bounce_rate"] >= 0.15
    finally:
        engine.send_signal(signal.SIGTERM)
        _, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err
    assert "Traceback" not in err


def test_dash_style_syslog_names_attributed_exactly_with_ip_map(
    postfix_testbed: PostfixTestbed, tmp_path: Path
) -> None:
    tb = postfix_testbed
    tb.restart_with(DASH_SYSLOG_NAMES)
    try:
        started = time.time()
        send_plan(tb, {"ip2": (40, 2, 1), "ip3": (40, 4, 0), "ip4": (40, 10, 2)}, "dash")
        truth, notices = sink_truth(tb)
        text = tb.log_path.read_text(errors="replace")
        assert "postfix-out3/smtp[" in text and "postfix/ip3/" not in text
        db = f"sqlite+aiosqlite:///{tmp_path / 'dash.db'}"
        maps = [a for name, ip in tb.syslog_map.items() for a in ("--ip-map", f"{name}={ip}")]
        opsconsole("--db", db, "ingest", str(tb.log_path), "--format", "postfix", *maps)
        rep = report(db, started)
        assert per_ip(rep) == truth
        assert rep["unattributed"]["delivered"] == notices
        # Without the map nothing is attributed: the names really are the dash style.
        db2 = f"sqlite+aiosqlite:///{tmp_path / 'nomap.db'}"
        opsconsole("--db", db2, "ingest", str(tb.log_path), "--format", "postfix")
        assert report(db2, started)["ips"] == []
    finally:
        tb.restart_with(SLASH_SYSLOG_NAMES)
