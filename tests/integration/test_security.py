"""Security and hostile configuration (issue 5.5 config part, 5.6), on real processes.

* Files we create are private: the SQLite database, its -wal and -shm, and ``report --output``
  are mode 0600 even under ``umask 000``.
* Secrets (webhook URLs with a token in the path, Slack URLs, ``BOUNCE_ALERT_WEBHOOK_URL``)
  never appear in ``config show``, ``status`` (text or JSON) or the headless engine's logs,
  even when the endpoint fails and echoes its own path back in the error body.
* Action hooks are argv, never a shell: a ``$(touch ...)`` in an operator's reason or in a
  log's diagnostic, subuser or recipient never runs.
* A bad config file (wrong type, unknown key, bad TOML) is exit 2 with one line naming the key
  and its line, for ``config check`` and for a command that needs the config (``report``).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from opsconsole.core.engine.hooks import build_argv
from tests.helpers import http_receiver as receivers
from tests.helpers.http_receiver import HttpReceiver

make_receiver = receivers.make_receiver

TOKEN = "xoxT0KEN-4f1c2e9b7a"
SLACK_SECRET = "B0SLACKSECRET77"
LEGACY_SECRET = "L3GACY-s3cret-88"


def run(
    *args: str, umask: int | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "opsconsole", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def jsonl(path: Path, ip: str, n: int, bounced: int, *, diag: str = "550 5.7.1 blocked",
          subuser: str | None = None, domain: str = "example.com") -> None:  # fmt: skip
    now = time.time()
    with path.open("a") as f:
        for i in range(n):
            kind = "bounced" if i < bounced else "delivered"
            f.write(json.dumps({
                "ts": now - 300 + i, "kind": kind, "ip": ip, "subuser": subuser, "hard": False,
                "rcpt_domain": domain, "status": "5.7.1" if kind == "bounced" else "2.0.0",
                "diag": diag if kind == "bounced" else "250 ok",
            }) + "\n")  # fmt: skip


# --------------------------------------------------------------------------- file modes


def test_database_wal_and_exports_are_private_even_with_umask_000(tmp_path: Path) -> None:
    src = tmp_path / "ev.jsonl"
    jsonl(src, "192.0.2.50", 40, 2)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[sources]]\nname = "ev"\nformat = "jsonl"\npath = "{src}"\n')

    # The default location: $XDG_DATA_HOME/opsconsole/opsconsole.db, in a 0700 folder.
    assert run("ingest", str(src), "--format", "jsonl", umask=0).returncode == 0
    default = Path(os.environ["XDG_DATA_HOME"]) / "opsconsole" / "opsconsole.db"
    assert mode(default) == 0o600
    assert mode(default.parent) == 0o700

    # -wal and -shm exist while an engine has the database open.
    db_path = tmp_path / "private" / "ops.db"
    db = f"sqlite+aiosqlite:///{db_path}"
    engine = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "--db", db, "--config", str(cfg), "--no-ui"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: os.umask(0),
    )  # fmt: skip
    try:
        wal, shm = Path(f"{db_path}-wal"), Path(f"{db_path}-shm")
        deadline = time.monotonic() + 20
        while not (wal.exists() and shm.exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert wal.exists(), "no WAL file appeared"
        assert {p.name: mode(p) for p in (db_path, wal, shm)} == {
            db_path.name: 0o600, wal.name: 0o600, shm.name: 0o600,
        }  # fmt: skip
    finally:
        engine.terminate()
        engine.communicate(timeout=30)

    out = tmp_path / "exports" / "report.json"
    out.parent.mkdir()
    for fmt in ("json", "csv"):
        target = out.with_suffix(f".{fmt}")
        res = run("--db", db, "report", "--format", fmt, "--output", str(target), umask=0)
        assert res.returncode == 0, res.stderr
        assert mode(target) == 0o600
    assert "ips" in json.loads(out.with_suffix(".json").read_text())


# --------------------------------------------------------------------------- secrets


def secret_config(tmp_path: Path, webhook: str, source: Path | None = None) -> Path:
    cfg = tmp_path / "secret.toml"
    text = (
        '[monitor]\ncheck_interval = "1s"\n'
        f'[[notify]]\nkind = "webhook"\nname = "ops"\nurl = "{webhook}"\ntimeout = "2s"\n'
        '[[notify]]\nkind = "slack"\n'
        f'url = "https://hooks.slack.com/services/T0000/{SLACK_SECRET}/zzz"\n'
        '[[pools]]\nname = "bulk"\nmembers = [{ ip = "192.0.2.60" }]\n'
    )
    if source is not None:
        text += f'[[sources]]\nname = "ev"\nformat = "jsonl"\npath = "{source}"\n'
    cfg.write_text(text)
    return cfg


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (TOKEN, SLACK_SECRET, LEGACY_SECRET):
            assert secret not in text, f"{secret} leaked in:\n{text}"


def test_secrets_never_printed_by_config_show_status_or_engine_logs(
    tmp_path: Path, make_receiver: Callable[..., HttpReceiver]
) -> None:
    failing = make_receiver(status=500)  # its error body echoes the path, token included
    src = tmp_path / "ev.jsonl"
    jsonl(src, "192.0.2.60", 100, 40)  # 40%: block, an alert to notify
    cfg = secret_config(tmp_path, failing.url(f"/hooks/{TOKEN}"), src)
    env = {"BOUNCE_ALERT_WEBHOOK_URL": f"http://127.0.0.1:9/legacy/{LEGACY_SECRET}"}
    args = ("--db", f"sqlite+aiosqlite:///{tmp_path / 's.db'}", "--config", str(cfg))

    show = run(*args, "config", "show", env=env)
    assert show.returncode == 0, show.stderr
    shown = json.loads(show.stdout)
    assert len(shown["notify"]) == 3  # the legacy variable became a third notifier
    assert all("***" in n["url"] for n in shown["notify"])
    assert_no_secret(show.stdout, show.stderr)

    logs = ""
    for log_format in ("plain", "json"):
        once = run(*args, "--no-ui", "--once", "--log-format", log_format, env=env)
        assert once.returncode == 0, once.stderr
        assert_no_secret(once.stdout, once.stderr)
        logs += once.stderr
    assert failing.posts, "the webhook was attempted"
    assert TOKEN in failing.posts[0].path  # ... at the secret URL, which answered 500
    assert "notify ops" in logs and "500" in logs  # the failure is reported, redacted

    for extra in ((), ("--json",)):
        st = run(*args, "status", *extra, env=env)
        # --once left no live leader: unhealthy, exit 1 (issue 13.5), and still no secret
        assert st.returncode == 1, st.stderr
        assert "127.0.0.1" in st.stdout  # endpoints are named by host
        assert_no_secret(st.stdout, st.stderr)


# --------------------------------------------------------------------------- hooks


def hook_recorder(tmp_path: Path) -> tuple[list[str], Path]:
    """argv of a hook that appends its arguments (JSON) to a file."""
    out = tmp_path / "hook-calls.jsonl"
    script = f"import json, sys; open({str(out)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')"
    return [sys.executable, "-c", script], out


def test_build_argv_keeps_hostile_values_as_one_literal_argument(tmp_path: Path) -> None:
    pwned = Path(f"/tmp/pwned-{uuid.uuid4().hex}")
    hostile = f"$(touch {pwned}); `touch {pwned}` | touch {pwned} && touch {pwned} {{ip}}"
    template = ["/bin/echo", "{action}", "ip={ip}", "{reason}"]
    argv = build_argv(template, {"action": "remove", "ip": "192.0.2.1", "reason": hostile})
    assert argv == ["/bin/echo", "remove", "ip=192.0.2.1", hostile]
    res = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert res.stdout == f"remove ip=192.0.2.1 {hostile}\n"
    # The same through sh -c with the value as a positional parameter, as a careful hook
    # author would write it: still data, never code.
    argv = build_argv(
        ["/bin/sh", "-c", 'printf "%s" "$1"', "hook", "{reason}"], {"reason": hostile}
    )
    res = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert res.stdout == hostile
    assert not pwned.exists()


def test_hostile_reason_and_log_fields_never_execute_in_action_hooks(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    pwned = {k: Path(f"/tmp/pwned-{tag}-{k}") for k in ("reason", "diag", "sub", "rcpt")}
    runner, calls = hook_recorder(tmp_path)
    src = tmp_path / "ev.jsonl"
    # A log whose bounce diagnostics, subuser and recipient domain are shell code.
    jsonl(src, "192.0.2.71", 100, 40, diag=f"550 5.7.1 $(touch {pwned['diag']})",
          subuser=f"$(touch {pwned['sub']})", domain=f"x.test;touch {pwned['rcpt']}")  # fmt: skip
    argv = json.dumps([*runner, "{action}", "{ip}", "{pool}", "{subuser}", "{reason}"])
    cfg = tmp_path / "hooks.toml"
    cfg.write_text(
        f'[[sources]]\nname = "ev"\nformat = "jsonl"\npath = "{src}"\n'
        '[[pools]]\nname = "bulk"\nmembers = [{ ip = "192.0.2.70" }, { ip = "192.0.2.71" }]\n'
        f'[[actions]]\non = ["remove", "restore"]\nrun = {argv}\ntimeout = "10s"\n'
    )
    args = ("--db", f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", "--config", str(cfg))

    # The engine removes the bad IP by itself: the hook runs with values from the log's world.
    once = run(*args, "--no-ui", "--once")
    assert once.returncode == 0, once.stderr
    # An operator's reason, typed by a person or pasted from a bounce.
    hostile = f"$(touch {pwned['reason']}); `touch {pwned['reason']}`"
    res = run(*args, "pools", "remove", "bulk", "192.0.2.70", "--reason", hostile)
    assert res.returncode == 0, res.stderr

    got = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [c[:3] for c in got] == [
        ["remove", "192.0.2.71", "bulk"],
        ["remove", "192.0.2.70", "bulk"],
    ]
    assert hostile in got[1][4]  # the reason arrived whole, as one literal argument
    assert not [p for p in pwned.values() if p.exists()]


# --------------------------------------------------------------------------- hostile config

BAD_CONFIGS = [
    # (toml text, text the one-line error must contain, line it must name or None)
    ('[monitor]\ncheck_interval = "soon"\n', "monitor.check_interval", 2),
    ("[monitor]\nmin_sample = \"ten\"\n", "monitor.min_sample", 2),
    ("[monitor]\nwindow = \"1h\"\nbogus_key = 1\n", "monitor.bogus_key: unknown key", 3),
    ("[monitr]\ncheck_interval = \"5m\"\n", "monitr: unknown key", 1),
    ("[monitor.thresholds]\nwarning = 1.5\n", "monitor.thresholds.warning", 2),
    ('[[sources]]\nname = "x"\nformat = "exim"\npath = "/var/log/x"\n', "sources.0.format", 3),
    ("[[notify]]\nkind = \"webhook\"\nurl = 42\n", "notify.0.url", 3),
    ('[[actions]]\non = ["explode"]\nrun = ["/bin/true"]\n', "actions.0.on.0", 2),
    ('[[pools]]\nname = "p"\nmembers = [ { ip = "192.0.2.1", weight = "heavy" } ]\n',
     "pools.0.members.0.weight", 3),
    ("[monitor\ncheck_interval = 5\n", "invalid TOML", 1),
    ('[monitor]\ncheck_interval = "5m"\ncheck_interval = "1m"\n', "invalid TOML", 3),
]  # fmt: skip


@pytest.mark.parametrize(("text", "names", "line"), BAD_CONFIGS)
def test_bad_config_is_exit_2_naming_key_and_line(
    tmp_path: Path, text: str, names: str, line: int | None
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    res = run("--config", str(cfg), "config", "check")
    assert res.returncode == 2, (res.stdout, res.stderr)
    err = res.stderr.strip().splitlines()
    assert len(err) == 1, res.stderr
    assert names in err[0], err[0]
    if line is not None:
        assert f"{cfg}:{line}:" in err[0] or f"line {line}" in err[0], err[0]
    assert res.stdout == ""


def test_bad_config_stops_report_with_the_same_line(tmp_path: Path) -> None:
    for i, (text, names, _line) in enumerate(BAD_CONFIGS[:3] + BAD_CONFIGS[-2:-1]):
        cfg = tmp_path / f"bad{i}.toml"
        cfg.write_text(text)
        db = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
        res = run("--config", str(cfg), "--db", db, "report", "--format", "json")
        assert res.returncode == 2, res.stderr
        assert res.stdout == ""
        (only,) = res.stderr.strip().splitlines()
        assert names in only
