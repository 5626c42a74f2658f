"""Postfix syslog lines (classic or RFC 3339 time stamps)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping

from opsconsole.core.events import Event, Kind
from opsconsole.simulator.render_base import (
    _SIZES,
    _render_iter,
    _Renderer,
    _rfc3339_prefix,
    _syslog_time,
)
from opsconsole.simulator.scenario import Scenario
from opsconsole.simulator.texts import _TEXTS, _enhanced
from opsconsole.simulator.truth import Truth


class _PostfixRenderer(_Renderer):
    fmt = "postfix"

    def __init__(
        self,
        scenario: Scenario | None,
        seed: int,
        truth: Truth | None,
        style: str = "classic",
        transports: Mapping[str, str] | None = None,
        noise: float = 0.2,
        ndr: bool = True,
        host: str | None = None,
    ) -> None:
        if style not in ("classic", "rfc3339"):
            raise ValueError(f"postfix style must be classic or rfc3339, not {style!r}")
        super().__init__(scenario, seed, truth)
        self.style = style
        # IP -> syslog name (the transport's -o syslog_name=...)
        self.transports = (
            dict(transports)
            if transports is not None
            else {p.ip: p.syslog_name for p in self.scenario.ips}
        )
        self.ip_map = {name: ip for ip, name in self.transports.items()}
        self.truth.ip_map = dict(self.ip_map)
        self.noise = noise
        self.ndr = ndr
        self.host = host or self.scenario.host
        self.qid = self.rng.getrandbits(36) | (1 << 39)
        self.pid = 4000 + self.rng.randrange(20000)
        self.pids: dict[str, list[int]] = {}  # tag -> [pid, uses left]
        self.qmgr_pid = self._new_pid()
        self.cleanup_pid = self._new_pid()
        self.bounce_pid = self._new_pid()
        self.delays = [_delays(self.rng) for _ in range(64)]

    def _new_pid(self) -> int:
        self.pid += 1 + int(self.rng.random() * 7)
        if self.pid > 4_000_000:
            self.pid = 1000
        return self.pid

    def _smtp_pid(self, tag: str) -> int:
        slot = self.pids.get(tag)
        if slot is None or slot[1] <= 0:
            slot = self.pids[tag] = [self._new_pid(), 100]  # smtp(8) max_use
        slot[1] -= 1
        return slot[0]

    def _next_qid(self) -> str:
        self.qid += 1 + int(self.rng.random() * 97)
        return f"{self.qid & 0xFFFFFFFFFF:010X}"

    def _stamp(self, ts: float) -> str:
        sec = int(ts)
        if sec != self._last_sec:
            self._last_sec = sec
            self._last_stamp = (
                _syslog_time(sec) if self.style == "classic" else _rfc3339_prefix(sec)
            )
        if self.style == "classic":
            return self._last_stamp
        return f"{self._last_stamp}.{int((ts - sec) * 1e6):06d}+00:00"

    def render(self, events: Iterable[Event]) -> list[str]:
        lines: list[str] = []
        out = lines.append
        rnd = self.rng.random
        getbits = self.rng.getrandbits
        transports = self.transports
        domain = self.domain
        count = self.count
        host = self.host
        noise = self.noise
        delays = self.delays
        n_delays = len(delays)
        for ev in events:
            ts, kind, ip, _sub, hard, dom_name, status, diag = ev[:8]
            if kind == Kind.COMPLAINED:
                self.truth.skipped += 1  # Postfix logs no feedback loop
                continue
            stamp = self._stamp(ts)
            pre = f"{stamp} {host} postfix/"
            dom = domain(dom_name)
            tag = transports.get(ip or "", "postfix")
            attributed = ip if tag != "postfix" else None
            qid = self._next_qid()
            tenant = _sub or "acme"
            sender = f"bounces@{tenant}.example"
            rcpt = f"u{getbits(28):07x}@{dom_name}"
            noisy = rnd() < noise
            if noisy:
                size = _SIZES[int(rnd() * len(_SIZES))]
                out(f"{pre}cleanup[{self.cleanup_pid}]: {qid}: message-id=<{qid}@{tenant}.example>")
                out(
                    f"{pre}qmgr[{self.qmgr_pid}]: {qid}: from=<{sender}>, size={size}, "
                    "nrcpt=1 (queue active)"
                )
            smtp = (
                f"{stamp} {host} {tag}/smtp[{self._smtp_pid(tag)}]: {qid}: to=<{rcpt}>, "
                f"relay={dom.mx}[{dom.mx_ip}]:25, "
            )
            delay = delays[int(rnd() * n_delays)]
            if kind == Kind.DELIVERED:
                text = _TEXTS.get(dom.family, _TEXTS["generic"])["ok"]
                dsn = _enhanced(text) or "2.0.0"
                out(f"{smtp}{delay}, dsn={dsn}, status=sent ({text})")
            elif kind == Kind.BOUNCED:
                cmd = "end of DATA command" if status.startswith("5.7.") else "RCPT TO command"
                out(
                    f"{smtp}{delay}, dsn={status or '5.0.0'}, status=bounced "
                    f"(host {dom.mx}[{dom.mx_ip}] said: {diag} (in reply to {cmd}))"
                )
            else:
                cmd = "MAIL FROM command" if diag.startswith("421") else "RCPT TO command"
                out(
                    f"{smtp}{delay}, dsn={status or '4.0.0'}, status=deferred "
                    f"(host {dom.mx}[{dom.mx_ip}] said: {diag} (in reply to {cmd}))"
                )
            count(attributed, None, kind, hard, dom_name)
            if kind != Kind.DEFERRED and noisy:
                out(f"{pre}qmgr[{self.qmgr_pid}]: {qid}: removed")
            if kind == Kind.BOUNCED and self.ndr:
                # The non-delivery notice goes out through the default transport: a real
                # delivery that belongs to no mapped IP.
                nqid = self._next_qid()
                if noisy:
                    out(f"{pre}cleanup[{self.cleanup_pid}]: {nqid}: message-id=<{nqid}@{host}>")
                out(
                    f"{pre}bounce[{self.bounce_pid}]: {qid}: "
                    f"sender non-delivery notification: {nqid}"
                )
                if noisy:
                    out(
                        f"{pre}qmgr[{self.qmgr_pid}]: {nqid}: from=<>, size=4108, "
                        "nrcpt=1 (queue active)"
                    )
                out(
                    f"{pre}smtp[{self._smtp_pid('postfix')}]: {nqid}: to=<{sender}>, "
                    f"relay=mx.{tenant}.example[192.0.2.10]:25, "
                    f"{delays[int(rnd() * n_delays)]}, dsn=2.0.0, "
                    f"status=sent (250 2.0.0 Ok: queued as {nqid[:6]}x)"
                )
                count(None, None, Kind.DELIVERED, False)
                if noisy:
                    out(f"{pre}qmgr[{self.qmgr_pid}]: {nqid}: removed")
        return self.finish(lines)


def _delays(rng: random.Random) -> str:
    """``delay=N, delays=a/b/c/d`` as Postfix logs them (c: connection setup, d: transfer)."""
    a, b = round(rng.random() * 0.05, 2), round(rng.random() * 0.02, 2)
    c, d = round(rng.random() * 0.3, 2), round(0.05 + rng.random() * 0.8, 2)
    return f"delay={a + b + c + d:.2f}, delays={a:g}/{b:g}/{c:g}/{d:g}"


def render_postfix(
    events: Iterable[Event],
    style: str = "classic",
    transports: Mapping[str, str] | None = None,
    *,
    scenario: Scenario | None = None,
    noise: float = 0.2,
    ndr: bool = True,
    host: str | None = None,
    seed: int = 0,
    truth: Truth | None = None,
) -> Iterator[str]:
    """Postfix log lines, without newlines; ``style`` classic (``Nov 22 04:57:58``) or
    rfc3339 (``2026-11-22T04:57:58.123456+00:00``).

    ``transports`` maps IP -> syslog name (``postfix/out2``); by default the scenario's.
    An IP with no transport is logged by the plain ``postfix/smtp``. ``noise``: fraction
    of messages with their cleanup/qmgr lines. Each bounce makes a non-delivery notice,
    delivered by the plain ``postfix/smtp`` (an unattributed delivery) when ``ndr``.
    Complaints cannot be expressed in a Postfix log and are skipped.
    """
    r = _PostfixRenderer(scenario, seed, truth, style, transports, noise, ndr, host)
    return _render_iter(r, events)
