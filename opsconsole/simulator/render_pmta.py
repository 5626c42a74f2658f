"""PowerMTA accounting CSV lines."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.pmta import PMTA_HEADER
from opsconsole.simulator.render_base import (
    _SIZES,
    _pmta_time,
    _render_iter,
    _Renderer,
    _Sink,
)
from opsconsole.simulator.scenario import Scenario
from opsconsole.simulator.texts import _CATEGORY, _STATUS_TEXT, _TEXTS
from opsconsole.simulator.truth import Truth


class _PmtaRenderer(_Renderer):
    fmt = "pmta"

    def __init__(
        self,
        scenario: Scenario | None,
        seed: int,
        truth: Truth | None,
        header: Sequence[str] | None = None,
        shuffle_columns: bool = False,
        blank_source_ip: float = 0.25,
        header_every: int = 0,
    ) -> None:
        super().__init__(scenario, seed, truth)
        cols = list(header) if header is not None else list(PMTA_HEADER)
        unknown = [c for c in cols if c not in PMTA_HEADER]
        if unknown:
            raise ValueError(f"unknown PowerMTA columns: {', '.join(unknown)}")
        if "type" not in cols or "timeLogged" not in cols:
            raise ValueError("a PowerMTA header needs the type and timeLogged columns")
        if len(set(cols)) != len(cols):
            raise ValueError("duplicate PowerMTA column")
        if shuffle_columns:
            rest = [c for c in cols if c != "type"]
            self.rng.shuffle(rest)
            cols = ["type", *rest]
        self.columns = cols
        pos = {name: i for i, name in enumerate(PMTA_HEADER)}
        self.index = None if cols == list(PMTA_HEADER) else [pos[c] for c in cols]
        self.has = set(cols)
        self.blank_source_ip = blank_source_ip
        self.header_every = header_every
        self.since_header = 0
        self.header_sent = False
        self._sink = _Sink()
        self._queued_cache: dict[int, str] = {}

    def _time(self, sec: int) -> str:
        if sec == self._last_sec:
            return self._last_stamp
        self._last_sec = sec
        self._last_stamp = _pmta_time(sec)
        return self._last_stamp

    def _queued(self, sec: int) -> str:
        s = self._queued_cache.get(sec)
        if s is None:
            if len(self._queued_cache) > 4096:
                self._queued_cache.clear()
            s = self._queued_cache[sec] = _pmta_time(sec)
        return s

    def render(self, events: Iterable[Event]) -> list[str]:
        sink = self._sink
        lines: list[str] = []
        sink.lines = lines
        sink.write = lines.append
        # csv.writer binds ``write`` when created: one writer per call, on this call's list.
        writerow = csv.writer(sink, lineterminator="").writerow
        rnd = self.rng.random
        getbits = self.rng.getrandbits
        by_ip = self.by_ip
        domain = self.domain
        index = self.index
        has_src = "dlvSourceIp" in self.has
        has_vmta = "vmta" in self.has
        has_rep = "repSourceIp" in self.has
        ip_map = self.ip_map
        count = self.count
        blank = self.blank_source_ip
        every = self.header_every
        header = self.columns
        esmtp = "ENHANCEDSTATUSCODES,PIPELINING,8BITMIME,SMTPUTF8"
        src_mta = "pmta1.example.net (10.0.0.5)"
        n_sizes = len(_SIZES)
        if not self.header_sent:
            writerow(header)
            self.header_sent = True
        for ev in events:
            if every and self.since_header >= every:
                writerow(header)  # a pipe target restarting mid-stream
                self.since_header = 0
            ts, kind, ip, sub, hard, dom_name, status, diag = ev[:8]
            sec = int(ts)
            tl = self._time(sec)
            p = by_ip.get(ip) if ip else None
            vmta = p.vmta if p else ""
            pool = (p.pool or "") if p else ""
            tenant = sub or "acme"
            dom = domain(dom_name)
            rcpt = f"u{getbits(28):07x}@{dom_name}"
            orig = f"bounces@{tenant}.example"
            job = f"{tenant}-news"
            mta = f"{dom.mx} ({dom.mx_ip})"
            queue = f"{dom_name}/{vmta}"
            src_ip = ip or ""
            if kind == Kind.DELIVERED:
                text = _TEXTS.get(dom.family, _TEXTS["generic"])["ok"]
                row = [
                    "d", tl, tl, orig, rcpt, "", "relayed", "2.0.0 (success)",
                    f"smtp;{text}", mta, "", "smtp", src_mta, "smtp", src_ip, dom.mx_ip,
                    esmtp, _SIZES[int(rnd() * n_sizes)], vmta, job, "", queue, pool,
                    "", "", "",
                ]  # fmt: skip
                line_ip = src_ip if has_src else ""
            elif kind == Kind.COMPLAINED:
                fmt_ = "jmrp" if dom.family == "microsoft" else "arf"
                row = [
                    "f", tl, "", orig, rcpt, "", "", "", "", "", "", "", "", "", "", "",
                    "", "", "", job, "", "", "", src_ip, "abuse", fmt_,
                ]  # fmt: skip
                line_ip = src_ip if has_rep else ""
                vmta = ""
            else:
                typ = self.classify(status, diag)
                cat = _CATEGORY[typ][0]
                stext = _STATUS_TEXT.get(status, "other or undefined status")
                if kind == Kind.BOUNCED:
                    rtype, action = "b", "failed"
                    tq = tl
                    if rnd() < blank:
                        src_ip = ""  # attribution needs the vmta through the map
                else:
                    rtype, action = "t", "delayed"
                    tq = self._queued(sec - 600 - int(rnd() * 3000))
                row = [
                    rtype, tl, tq, orig, rcpt, "", action, f"{status} ({stext})",
                    f"smtp;{diag}", mta, cat, "smtp", src_mta, "smtp", src_ip, dom.mx_ip,
                    esmtp, "", vmta, job, "", queue, pool, "", "", "",
                ]  # fmt: skip
                line_ip = src_ip if has_src else ""
            if not line_ip and has_vmta and vmta:
                line_ip = ip_map.get(vmta, "")
            count(line_ip or None, (vmta or None) if has_vmta else None, kind, hard, dom_name)
            writerow(row if index is None else [row[i] for i in index])
            self.since_header += 1
        return self.finish(lines)


def render_pmta(
    events: Iterable[Event],
    header: Sequence[str] | None = None,
    *,
    scenario: Scenario | None = None,
    shuffle_columns: bool = False,
    blank_source_ip: float = 0.25,
    header_every: int = 0,
    seed: int = 0,
    truth: Truth | None = None,
) -> Iterator[str]:
    """PowerMTA accounting CSV lines (header first), without newlines.

    ``header``: the columns to write, any subset/order of :data:`PMTA_HEADER` (must hold
    ``type`` and ``timeLogged``). ``shuffle_columns`` shuffles all but ``type``.
    ``blank_source_ip``: fraction of ``b`` rows with an empty dlvSourceIp (the vmta still
    names the IP). ``header_every``: repeat the header every N rows (a pipe restarting).
    Complaints are ``f`` rows with ``repSourceIp``; deferrals ``t`` rows.
    """
    r = _PmtaRenderer(scenario, seed, truth, header, shuffle_columns, blank_source_ip, header_every)
    return _render_iter(r, events)
