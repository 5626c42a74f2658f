"""A real Postfix on loopback, delivering to an in-process sink that keeps the truth.

The session fixture ``postfix_testbed`` (see ``tests/e2e/conftest.py``) yields a
:class:`PostfixTestbed`. It needs root: it installs Postfix from Debian when missing, owns
``/etc/postfix`` for the session (backed up first, restored and ``postfix stop`` at the end, even
on failure) and purges the Postfix queue at start and end. It skips, with the reason, when not
root, when apt-get is missing, or when the install fails. Sessions on one machine serialize on
``/var/tmp/opsconsole-postfix-testbed/lock``; the backup lives next to it, so a session killed
before teardown is repaired (config restored, Postfix stopped) by the next one.

Delivery lines are ``<syslog_name>/smtp[pid]: QUEUEID: to=<...>, ..., status=sent|bounced|
deferred (...)``, e.g. ``postfix/ip3/smtp[6156]`` or ``postfix-out3/smtp[6156]``.

Topology (see ``/work/shared/domain/postfix-testbed.md``)::

    sendmail -f a@s2.test ... -> transport ip2 (smtp_bind_address=127.0.0.2, syslog postfix/ip2)
    sendmail -f b@s3.test ... -> transport ip3 (127.0.0.3, postfix/ip3)
    sendmail -f c@s4.test ... -> transport ip4 (127.0.0.4, postfix/ip4)
    non-delivery notices (sender <>) -> default transport "smtp" (127.0.0.1, syslog name postfix)
    every transport relays to [127.0.0.1]:PORT, an aiosmtpd sink run in a thread

The sink decides by the recipient's local part and keeps the truth per peer (source) address:

* ``bad*``  -> ``550 5.1.1`` (Postfix logs ``status=bounced`` and sends a notice to the sender,
  which arrives through the default transport - syslog name ``postfix``, program
  ``postfix/smtp`` - from 127.0.0.1 and counts as accepted there);
* ``full*`` -> ``452 4.2.2`` on the first attempt for that (source, recipient), accepted on the
  retry (``full_policy="once"``, default: one ``status=deferred`` then one ``status=sent``
  line), or refused on every attempt (``full_policy="always"``: call
  ``wait_quiet(allow_deferred=True)`` then ``drop_deferred()``);
* anything else -> ``250``.

API (all blocking, call from the test thread)::

    tb.log_path                 Path of the maillog_file Postfix writes (postlogd); a new file
                                per restart_with(), under a /tmp directory
    tb.transports               {"ip2": Transport(name, ip, sender, syslog_name), ...}
    tb.syslog_map               {"postfix/ip2": "127.0.0.2", ...} (the three mapped transports)
    tb.sender_for("ip3")        "b@s3.test"
    tb.send(sender, rcpt, n=1)  n messages; rcpt may contain "{i}" (0..n-1); returns recipients
    tb.send_many(pairs)         [(sender, rcpt), ...] submitted concurrently via sendmail
    tb.mix("ip4", n=100, bad=25, full=3, tag="r1")
                                (sender, rcpt) pairs for n messages through one transport:
                                `bad` bad*, `full` full*, the rest good*; unique per tag
    tb.send_mix(...)            same arguments, and sends them
    tb.wait_quiet(timeout=60)   until the queue is empty and the log stopped growing
    tb.truth()                  {ip: SinkCounts(accepted, rejected, deferred, deferred_attempts)}
    tb.truth_by_syslog()        same keyed by syslog name, plus "postfix" (the default smtp
                                transport, non-delivery notices) for 127.0.0.1
    tb.reset_truth()            forget the sink's counts (and its defer-once memory)
    tb.restart_with(syslog_names=DASH_SYSLOG_NAMES)
                                reconfigure (e.g. "postfix-out2"), new log file, restart Postfix,
                                reset the truth
    tb.drop_deferred()          postsuper -d ALL deferred
    tb.queue()                  postqueue -j as a list of dicts
    tb.sink.full_policy         "once" | "always", may be switched between sends
    tb.install_seconds          time apt-get took this session (0.0 when already installed)
    tb.sink_port                the sink's port (relayhost = [127.0.0.1]:sink_port)

Set ``OPSCONSOLE_E2E_KEEP=1`` to keep the log directory after the session.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.helpers.apt import apt_lock, held_flock

SBIN = Path("/usr/sbin")
POSTFIX = str(SBIN / "postfix")
POSTCONF = str(SBIN / "postconf")
POSTMAP = str(SBIN / "postmap")
POSTSUPER = str(SBIN / "postsuper")
POSTQUEUE = str(SBIN / "postqueue")
SENDMAIL = str(SBIN / "sendmail")
ETC_POSTFIX = Path("/etc/postfix")
# Fixed places so that a session killed before teardown is repaired by the next one, and two
# pytest processes on one machine take turns instead of fighting over /etc/postfix.
STATE_DIR = Path("/var/tmp/opsconsole-postfix-testbed")
BACKUP_DIR = STATE_DIR / "etc-postfix"
LOCK_FILE = STATE_DIR / "lock"
LOCK_TIMEOUT = 600.0

SLASH_SYSLOG_NAMES: dict[str, str] = {
    "ip2": "postfix/ip2",
    "ip3": "postfix/ip3",
    "ip4": "postfix/ip4",
}
DASH_SYSLOG_NAMES: dict[str, str] = {
    "ip2": "postfix-out2",
    "ip3": "postfix-out3",
    "ip4": "postfix-out4",
}
# transport -> (bind address, envelope sender routed to it)
TRANSPORT_ROUTES: dict[str, tuple[str, str]] = {
    "ip2": ("127.0.0.2", "a@s2.test"),
    "ip3": ("127.0.0.3", "b@s3.test"),
    "ip4": ("127.0.0.4", "c@s4.test"),
}
DEFAULT_SMTP_SYSLOG_NAME = "postfix"  # the default smtp transport logs as postfix/smtp
DEFAULT_SMTP_IP = "127.0.0.1"
RCPT_DOMAIN = "dest.test"

FullPolicy = Literal["once", "always"]


class TestbedUnavailable(Exception):
    """Postfix cannot be provided here; the fixture turns this into a skip."""


def _run(
    args: list[str], *, check: bool = True, input: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        args,
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PATH": f"/usr/sbin:/usr/bin:/sbin:/bin:{os.environ.get('PATH', '')}"},
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout}"
        )
    return proc


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


# --------------------------------------------------------------------------------- install


def ensure_postfix_installed() -> float:
    """Install Postfix from Debian if missing; return the seconds spent (0 when present).

    Raises :class:`TestbedUnavailable` when not root, apt-get is missing or the install fails.
    Checked and installed under the machine's apt lock: another xdist worker may be
    installing it right now (its binaries exist before its post-install has run).
    """
    if os.geteuid() != 0:
        raise TestbedUnavailable("the Postfix testbed needs root (os.geteuid() != 0)")
    with apt_lock():
        return _install_postfix()


def _install_postfix() -> float:
    if Path(POSTFIX).exists() and Path(SENDMAIL).exists():
        return 0.0
    apt = shutil.which("apt-get")
    if apt is None:
        raise TestbedUnavailable("Postfix is not installed and apt-get is not available")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    selections = (
        "postfix postfix/main_mailer_type select Local only\n"
        "postfix postfix/mailname string testbed.invalid\n"
    )
    if shutil.which("debconf-set-selections"):
        subprocess.run(["debconf-set-selections"], input=selections, text=True, capture_output=True)
    install = [
        apt,
        "-o",
        "DPkg::Lock::Timeout=120",
        "install",
        "-y",
        "--no-install-recommends",
        "postfix",
    ]

    def attempt(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    proc = attempt(install)
    if proc.returncode != 0:
        # Stale or missing package lists: refresh once and retry.
        update = attempt([apt, "-o", "DPkg::Lock::Timeout=120", "update"])
        if update.returncode != 0:
            raise TestbedUnavailable(
                f"apt-get update failed: {_last_line(update.stderr or update.stdout)}"
            )
        proc = attempt(install)
    if proc.returncode != 0 or not Path(POSTFIX).exists():
        raise TestbedUnavailable(
            f"apt-get install postfix failed: {_last_line(proc.stderr or proc.stdout)}"
        )
    return time.monotonic() - started


# ------------------------------------------------------------------------------------ sink


@dataclass
class SinkCounts:
    """What the sink answered to one source address.

    ``accepted``: recipients delivered (counted once DATA completed) = ``status=sent`` lines.
    ``rejected``: 5xx RCPT answers = ``status=bounced`` lines.
    ``deferred``: distinct recipients that got a 4xx at least once.
    ``deferred_attempts``: 4xx RCPT answers = ``status=deferred`` lines.
    """

    accepted: int = 0
    rejected: int = 0
    deferred: int = 0
    deferred_attempts: int = 0


@dataclass
class _SinkState:
    counts: dict[str, SinkCounts] = field(default_factory=dict)
    deferred_seen: set[tuple[str, str]] = field(default_factory=set)
    events: list[tuple[str, str, str, int]] = field(default_factory=list)


class Sink:
    """aiosmtpd handler: answers by recipient local part, records truth per peer address."""

    def __init__(self, full_policy: FullPolicy = "once") -> None:
        self.full_policy: FullPolicy = full_policy
        self._lock = threading.Lock()
        self._state = _SinkState()

    def _counts(self, ip: str) -> SinkCounts:
        return self._state.counts.setdefault(ip, SinkCounts())

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        ip = str(session.peer[0])
        local = address.split("@", 1)[0].lower()
        with self._lock:
            counts = self._counts(ip)
            if local.startswith("bad"):
                counts.rejected += 1
                self._state.events.append((ip, envelope.mail_from, address, 550))
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            if local.startswith("full"):
                key = (ip, address.lower())
                first = key not in self._state.deferred_seen
                if first or self.full_policy == "always":
                    if first:
                        counts.deferred += 1
                        self._state.deferred_seen.add(key)
                    counts.deferred_attempts += 1
                    self._state.events.append((ip, envelope.mail_from, address, 452))
                    return f"452 4.2.2 <{address}>: Mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        ip = str(session.peer[0])
        with self._lock:
            self._counts(ip).accepted += len(envelope.rcpt_tos)
            for rcpt in envelope.rcpt_tos:
                self._state.events.append((ip, envelope.mail_from, rcpt, 250))
        return "250 2.0.0 Ok: queued as X"

    def truth(self) -> dict[str, SinkCounts]:
        with self._lock:
            return {ip: SinkCounts(**vars(c)) for ip, c in sorted(self._state.counts.items())}

    def events(self) -> list[tuple[str, str, str, int]]:
        """(source ip, mail from, rcpt, code) in order, for debugging."""
        with self._lock:
            return list(self._state.events)

    def reset(self) -> None:
        with self._lock:
            self._state = _SinkState()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------- testbed


@dataclass(frozen=True)
class Transport:
    name: str
    ip: str
    sender: str
    syslog_name: str


class PostfixTestbed:
    """Owns /etc/postfix and a running Postfix for its lifetime; use :func:`postfix_testbed`."""

    def __init__(self, workdir: Path, *, full_policy: FullPolicy = "once") -> None:
        self.workdir = workdir
        self.sink = Sink(full_policy)
        self.sink_port = 0
        self.transports: dict[str, Transport] = {}
        self.log_path = workdir / "postfix.log"
        self.install_seconds = 0.0
        self._controller: Any = None
        self._backup = BACKUP_DIR
        self._generation = 0
        self._was_running = False

    # ---- lifecycle

    def start(self, syslog_names: Mapping[str, str] = SLASH_SYSLOG_NAMES) -> None:
        from aiosmtpd.controller import Controller

        if self._backup.exists():
            # A previous session died before its teardown: its backup is the real original,
            # and the Postfix running now (if any) is that session's.
            self._stop_postfix()
            self._restore_etc()
        else:
            self._was_running = self.is_running()
            _run(["cp", "-a", str(ETC_POSTFIX), str(self._backup)])
        self.sink_port = free_port()
        self._controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.sink_port, ready_timeout=10
        )
        self._controller.start()
        self.restart_with(syslog_names)

    def close(self) -> None:
        """Stop Postfix, purge our mail, restore /etc/postfix, stop the sink. Never raises."""
        errors: list[str] = []

        def step(what: str, fn: Callable[[], object]) -> None:
            try:
                fn()
            except Exception as exc:  # teardown must run every step
                errors.append(f"{what}: {exc!r}")

        step("postfix stop", self._stop_postfix)
        step("purge queue", lambda: _run([POSTSUPER, "-d", "ALL"], check=False))
        if self._backup.exists():
            step("restore /etc/postfix", self._restore_etc)
        if self._was_running:
            step("restart postfix", lambda: _run([POSTFIX, "start"], check=False))
        if self._controller is not None:
            step("stop sink", self._controller.stop)
        if not errors:
            shutil.rmtree(self._backup, ignore_errors=True)
        # Keep the backup (and the logs) if anything went wrong.
        if not errors and not os.environ.get("OPSCONSOLE_E2E_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            import warnings

            warnings.warn(
                f"postfix testbed teardown ({self.workdir} kept): " + "; ".join(errors),
                stacklevel=1,
            )

    def _restore_etc(self) -> None:
        shutil.rmtree(ETC_POSTFIX)
        _run(["cp", "-a", str(self._backup), str(ETC_POSTFIX)])

    @staticmethod
    def is_running() -> bool:
        if not Path(POSTFIX).exists():
            return False
        return _run([POSTFIX, "status"], check=False).returncode == 0

    def _stop_postfix(self) -> None:
        if not self.is_running():
            return
        _run([POSTFIX, "stop"], check=False)
        deadline = time.monotonic() + 15
        while self.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)

    # ---- configuration

    def restart_with(self, syslog_names: Mapping[str, str] = SLASH_SYSLOG_NAMES) -> None:
        """(Re)configure the three transports with these syslog names and restart Postfix.

        ``syslog_names`` maps transport (``ip2``/``ip3``/``ip4``) to syslog name, e.g.
        :data:`DASH_SYSLOG_NAMES`. Each call writes to a new log file (``self.log_path``),
        purges the queue and resets the sink's truth.
        """
        missing = set(TRANSPORT_ROUTES) - set(syslog_names)
        if missing:
            raise ValueError(f"syslog_names lacks transports {sorted(missing)}")
        self._stop_postfix()
        _run([POSTSUPER, "-d", "ALL"], check=False)
        self._generation += 1
        suffix = "" if self._generation == 1 else f"-{self._generation}"
        self.log_path = self.workdir / f"postfix{suffix}.log"
        self.transports = {
            name: Transport(name, ip, sender, syslog_names[name])
            for name, (ip, sender) in TRANSPORT_ROUTES.items()
        }
        self._configure()
        self.sink.reset()
        _run([POSTFIX, "start"])
        # postfix-script's "starting" line proves postlogd writes the file.
        deadline = time.monotonic() + 10
        while not self.log_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _configure(self) -> None:
        sender_map = ETC_POSTFIX / "sender_transport"
        sender_map.write_text("".join(f"{t.sender} {t.name}:\n" for t in self.transports.values()))
        _run([POSTMAP, f"hash:{sender_map}"])
        settings = {
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mydestination": "",
            "relayhost": f"[127.0.0.1]:{self.sink_port}",
            # Debian's "Local only" sets both to "error": nothing would leave the box.
            "default_transport": "smtp",
            "relay_transport": "relay",
            "smtp_tls_security_level": "none",
            "smtputf8_enable": "no",
            "maillog_file_prefixes": "/var, /dev/stdout, /tmp",
            "maillog_file": str(self.log_path),
            "sender_dependent_default_transport_maps": f"hash:{sender_map}",
            # Retries come quickly, and submissions are not throttled.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "in_flow_delay": "0s",
            "delay_warning_time": "0h",
        }
        _run([POSTCONF, "-e", *(f"{k}={v}" for k, v in settings.items())])
        if not _run([POSTCONF, "-M", "postlog/unix-dgram"], check=False).stdout.strip():
            _run([POSTCONF, "-M", "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd"])
        for t in self.transports.values():
            _run(
                [
                    POSTCONF,
                    "-M",
                    f"{t.name}/unix={t.name} unix - - n - - smtp"
                    f" -o smtp_bind_address={t.ip} -o syslog_name={t.syslog_name}",
                ]
            )

    # ---- views

    @property
    def syslog_map(self) -> dict[str, str]:
        """{syslog name -> source IP} for the three mapped transports."""
        return {t.syslog_name: t.ip for t in self.transports.values()}

    def sender_for(self, transport: str) -> str:
        return self.transports[transport].sender

    def truth(self) -> dict[str, SinkCounts]:
        """{source ip -> counts} as the sink saw them (127.0.0.1 = non-delivery notices)."""
        return self.sink.truth()

    def truth_by_syslog(self) -> dict[str, SinkCounts]:
        by_ip = self.truth()
        names = {**self.syslog_map, DEFAULT_SMTP_SYSLOG_NAME: DEFAULT_SMTP_IP}
        return {name: by_ip.get(ip, SinkCounts()) for name, ip in names.items()}

    def reset_truth(self) -> None:
        self.sink.reset()

    # ---- sending

    def send_many(self, pairs: Iterable[tuple[str, str]], *, workers: int = 16) -> int:
        """Submit one message per (sender, rcpt) with /usr/sbin/sendmail, concurrently."""
        items = list(pairs)

        def one(pair: tuple[str, str]) -> None:
            sender, rcpt = pair
            body = (
                f"From: <{sender}>\nTo: <{rcpt}>\nSubject: testbed\n\ntestbed message\n"
            ).encode()
            _run([SENDMAIL, "-i", "-f", sender, rcpt], input=body, timeout=30)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, items))
        return len(items)

    def send(self, sender: str, rcpt: str, n: int = 1) -> list[str]:
        """Send ``n`` messages from ``sender``; ``rcpt`` may contain ``{i}`` (0..n-1)."""
        rcpts = [rcpt.format(i=i) for i in range(n)]
        self.send_many((sender, r) for r in rcpts)
        return rcpts

    def mix(
        self, transport: str, n: int, *, bad: int = 0, full: int = 0, tag: str = "t"
    ) -> list[tuple[str, str]]:
        """(sender, rcpt) pairs for ``n`` messages through ``transport``, interleaved."""
        if bad + full > n:
            raise ValueError("bad + full must not exceed n")
        sender = self.sender_for(transport)
        kinds = ["bad"] * bad + ["full"] * full + ["good"] * (n - bad - full)
        # Spread the refusals evenly instead of sending them in one burst.
        order = sorted(range(n), key=lambda i: (i * 7919) % n)
        return [
            (sender, f"{kinds[k]}-{tag}-{transport}-{i:04d}@{RCPT_DOMAIN}")
            for i, k in enumerate(order)
        ]

    def send_mix(
        self, transport: str, n: int, *, bad: int = 0, full: int = 0, tag: str = "t"
    ) -> list[tuple[str, str]]:
        pairs = self.mix(transport, n, bad=bad, full=full, tag=tag)
        self.send_many(pairs)
        return pairs

    # ---- waiting

    def queue(self) -> list[dict[str, Any]]:
        out = _run([POSTQUEUE, "-j"], check=False).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_quiet(
        self, timeout: float = 60, *, settle: float = 1.0, allow_deferred: bool = False
    ) -> None:
        """Block until the queue is empty (or only holds deferred mail, if allowed) and the
        log has not grown for ``settle`` seconds. Raises TimeoutError with the queue state."""
        deadline = time.monotonic() + timeout
        last_size = -1
        stable_since = time.monotonic()
        queued: list[dict[str, Any]] = []
        while True:
            now = time.monotonic()
            size = self.log_path.stat().st_size if self.log_path.exists() else 0
            if size != last_size:
                last_size, stable_since = size, now
            queued = self.queue()
            if allow_deferred:
                queued = [q for q in queued if q.get("queue_name") != "deferred"]
            if not queued and now - stable_since >= settle:
                return
            if now > deadline:
                summary = [(q.get("queue_name"), q.get("queue_id")) for q in queued[:10]]
                raise TimeoutError(
                    f"postfix not quiet after {timeout}s: {len(queued)} queued {summary}"
                )
            time.sleep(0.2)

    def drop_deferred(self) -> None:
        _run([POSTSUPER, "-d", "ALL", "deferred"], check=False)


@contextlib.contextmanager
def postfix_testbed_session(
    syslog_names: Mapping[str, str] = SLASH_SYSLOG_NAMES, *, full_policy: FullPolicy = "once"
) -> Iterator[PostfixTestbed]:
    """Lock, install if needed, start, yield, always tear down. Raises TestbedUnavailable."""
    if os.geteuid() != 0:
        raise TestbedUnavailable("the Postfix testbed needs root (os.geteuid() != 0)")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(held_flock(LOCK_FILE, LOCK_TIMEOUT, poll=0.5))
        except TimeoutError:
            raise TestbedUnavailable(
                f"another session held {LOCK_FILE} for {LOCK_TIMEOUT:.0f}s"
            ) from None
        yield from _session(syslog_names, full_policy)


def _session(syslog_names: Mapping[str, str], full_policy: FullPolicy) -> Iterator[PostfixTestbed]:
    install_seconds = ensure_postfix_installed()
    workdir = Path(tempfile.mkdtemp(prefix="opsconsole-postfix-", dir="/tmp"))
    os.chmod(workdir, 0o755)
    tb = PostfixTestbed(workdir, full_policy=full_policy)
    tb.install_seconds = install_seconds
    try:
        tb.start(syslog_names)
        yield tb
    finally:
        tb.close()
