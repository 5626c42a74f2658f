"""Go's postfix_exporter (Debian ``prometheus-postfix-exporter``) as a measured peer.

The exporter only follows a log (it starts reading at the end of the file), so it is
measured the way it is used: started on an empty file, which then receives the whole log in
one write; its ``/metrics`` on 127.0.0.1 is polled every 50 ms until the sum of all its
counters (deliveries, qmgr, cleanup, unsupported lines ...: every line it looked at moves
one) stops changing for two seconds. Wall time runs from the start of the write to the first
poll that saw the final sum; CPU is the process's user + system time (``/proc/PID/stat``)
over the same span; peak RSS is its ``VmHWM``. Its start-up is not counted (ours is).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.common import OUT, Proc

NAMES = ("prometheus-postfix-exporter", "postfix_exporter")
QUIET = 2.0  # seconds without a change: the exporter is done
POLL = 0.05


def exporter() -> str:
    for name in NAMES:
        path = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
        if path is not None:
            return path
    raise SystemExit(
        "bench: postfix_exporter is needed: apt-get install -y prometheus-postfix-exporter"
    )


def version() -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", NAMES[0]], capture_output=True, text=True
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _counter_sum(url: str) -> float | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("postfix_") and (
            "_total" in line.split(" ", 1)[0] or "_count" in line.split(" ", 1)[0]
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_exporter(log: str) -> Proc:
    """Feed ``log`` to a fresh exporter; wall and CPU until it has read it all."""
    OUT.mkdir(parents=True, exist_ok=True)
    followed = OUT / "exporter-follow.log"
    followed.write_bytes(b"")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with open(OUT / ".exporter.err", "wb") as err:
        p = subprocess.Popen(
            [exporter(), f"--postfix.logfile_path={followed}",
             f"--web.listen-address=127.0.0.1:{port}",
             f"--postfix.showq_path={OUT / 'no-showq'}"],
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while _counter_sum(url) is None:
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postfix_exporter did not start: {OUT / '.exporter.err'}")
            time.sleep(POLL)
        time.sleep(0.3)  # let it settle on the (empty) file
        cpu0 = _cpu(p.pid)
        started = time.perf_counter()
        with open(log, "rb") as src, open(followed, "ab") as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
        last = _counter_sum(url) or 0.0
        done_at, done_cpu = time.perf_counter(), _cpu(p.pid)
        while time.perf_counter() - done_at < QUIET:
            time.sleep(POLL)
            now = _counter_sum(url)
            if now is not None and now != last:
                last = now
                done_at, done_cpu = time.perf_counter(), _cpu(p.pid)
        proc = Proc(done_at - started, done_cpu - cpu0, _hwm_mb(p.pid), 0, f"{last:.0f}")
    finally:
        p.terminate()
        p.wait(10)
        followed.unlink(missing_ok=True)
    return proc
