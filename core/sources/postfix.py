"""Postfix syslog / ``maillog_file`` lines.

Only ``status=sent|deferred|bounced`` lines written by a delivery agent (smtp, lmtp, local,
virtual, pipe, error, discard, retry) are events, one per line; the recipient is ``to=<a@b>``
or ``to=a@b``, and a delivery line without ``to=`` still counts (with no domain). Every other
Postfix line (qmgr, pickup, cleanup, bounce, scache, smtp connection warnings...) is ignored,
and a line that is not syslog-shaped, or whose time is out of range (see base), is malformed.
A qmgr ``status=expired, returned to sender`` line is message-level (no transport, no
recipient): it is counted in ``stats.expired``, never as a bounce.

Internal hops. A hand-off to a local content filter (amavis on ``relay=127.0.0.1[127.0.0.1]
:10024``, reply ``250 2.0.0 Ok: queued as NEWID`` or ``250 2.0.0 from MTA(smtp:[127.0.0.1]
:10025): 250 2.0.0 Ok: queued as NEWID``) is not a delivery: the filter re-injects the
message, which then gets NEWID and its real delivery lines. Rules:

* a relay listed in ``internal_relays`` (``host:port``, ``ip:port``, the full ``host[ip]:port``
  as logged, or a bare name such as ``dfilt`` for a pipe filter) is always a hop, whatever
  its status: ``stats.internal``;
* a ``status=sent`` line to a loopback relay (``[127.x.x.x]`` or ``[::1]``) whose reply ends
  in ``queued as ID``, where ID has the syntax of a Postfix queue id (6+ upper-case hex, or a
  12-20 character long id), is a *candidate*. It is a hop if ID is already known as a
  re-injected message (an ``smtpd`` line ``ID: client=...[127.x]`` seen in the last
  :data:`RECENT_MAX` such lines), or if a later line carries queue id ID. It is a real
  delivery (emitted late, with its own timestamp) once :data:`HOLD_LINES` lines or
  :data:`HOLD_SECONDS` of log time (by later delivery lines) have passed without ID, or
  when more than :data:`PENDING_MAX` candidates are held (oldest first), or on
  :meth:`PostfixParser.flush`;
* any other loopback delivery (LMTP to a local dovecot, a test sink that says ``queued as
  X``) is a real delivery at once.

The held candidates and the recent re-injected ids are part of ``get_state()``, and every
bound counts lines or log time, never batches or the wall clock, so feeding a log in any
batch split with ``get_state``/``set_state`` in between gives exactly the result of one run.
Until resolved, a candidate line is counted in no ``stats`` field (see :attr:`pending`).

Postfix never logs the source IP. The usual setup is one smtp transport per IP with its own
``syslog_name``, so the attribution key is the syslog tag without the program:
``postfix/out2/smtp`` -> ``postfix/out2``, ``postfix-out2/smtp`` -> ``postfix-out2``, and
plain ``postfix/smtp`` -> ``postfix``. The full tag is also accepted as a map key (tried
first).

Timestamps:

* RFC 3339 (``2026-11-22T04:57:58.123456+00:00``): exact; without an offset, UTC.
* classic syslog (``Nov 22 04:57:58``): no year and no zone. The year is the newest that
  does not put the line more than one day after ``now()``: normally now's year, the year
  before for a December line read in January, the year after only for a ``Jan 1`` line read
  in the last hours of Dec 31 (clock skew); Feb 29 goes back to the last leap year. The time
  is taken as UTC: syslog writes the host's local time but the line does not say which zone,
  and the parser must not depend on the zone of the machine that reads the log. Run mail hosts
  on UTC or log RFC 3339. Lines up to a day "ahead" (a host east of UTC) are accepted.

``now`` (a clock, required) is read once per ``feed`` call; the parser never reads the wall
clock itself.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from opsconsole.core.classify import is_hard
from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.base import (
    MAX_AHEAD,
    MIN_TS,
    LineParser,
    Now,
    ParseStats,
    normalise_map,
)

DELIVERY_PROGRAMS = frozenset(
    {"smtp", "lmtp", "local", "virtual", "pipe", "error", "discard", "retry"}
)
RECENT_MAX = 2048  # re-injected queue ids remembered (smtpd lines from a loopback client)
PENDING_MAX = 2048  # candidate hops held at most; beyond, the oldest become deliveries
HOLD_LINES = 100_000  # a candidate not resolved within this many lines is a delivery
HOLD_SECONDS = 600.0  # ... or once a delivery line is this much later in log time

_STATUS: dict[str, Kind] = {
    "sent": Kind.DELIVERED,
    "bounced": Kind.BOUNCED,
    "deferred": Kind.DEFERRED,
}
_DELIVERED = Kind.DELIVERED
_BOUNCED = Kind.BOUNCED
_KINDS = tuple(Kind)
# Program categories of a syslog tag.
_OTHER, _AGENT, _SMTPD, _QMGR = 0, 1, 2, 3
_NORMAL, _LOOPBACK, _INTERNAL = 0, 1, 2  # what a relay is
# Syslog writes English month names whatever the locale (calendar.month_abbr would follow it).
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_DAY = 86_400.0
_CACHE_MAX = 4096
# Short queue ids are upper-case hex (microseconds + inode); long ones (enable_long_queue_ids)
# 12+ characters of [0-9A-Za-z].
_QUEUE_ID = re.compile(r"[0-9A-F]{6,20}|[0-9A-Za-z]{12,20}")
_qid_ok = _QUEUE_ID.fullmatch

# One regex per line shape: the timestamp up to the minute, the seconds, host and tag; the
# message starts at the match's end. The delivery message itself is cut with str.find (three
# times faster than a regex with lazy groups): ``QUEUEID: to=<rcpt>, ..., dsn=X.Y.Z,
# status=sent (text)``.
_CLASSIC = re.compile(
    r"([A-Z][a-z]{2} +\d{1,2} \d\d:\d\d):(\d\d)(?:\.\d+)? +\S+ +([^\s\[\]:]+)(?:\[\d*\])?: ?"
)
_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d):(\d\d)(\.\d+)?(Z|z|[+-]\d\d:?\d\d)? +\S+ +"
    r"([^\s\[\]:]+)(?:\[\d*\])?: ?"
)
# Event(...) runs a Python-level __new__; tuple.__new__ builds the same NamedTuple 3x faster.
_new = tuple.__new__

# A held candidate hop: [ts, kind, ip, hard, domain, status, diag, line number]
_Held = list[Any]


def _valid_held(e: Any) -> bool:
    return (
        isinstance(e, list)
        and len(e) == 8
        and isinstance(e[0], int | float)
        and isinstance(e[1], int)
        and 0 <= e[1] < len(_KINDS)
        and (e[2] is None or isinstance(e[2], str))
        and isinstance(e[3], bool)
        and all(isinstance(x, str) for x in e[4:7])
        and isinstance(e[7], int)
    )


class PostfixParser(LineParser):
    """Postfix log lines to events; see the module docstring for the rules."""

    format = "postfix"

    def __init__(
        self,
        ip_map: Mapping[str, str] | None = None,
        *,
        now: Now,
        internal_relays: Iterable[str] = (),
    ) -> None:
        self.ip_map: dict[str, str] = normalise_map(ip_map)
        self.now: Now = now
        self.internal_relays = frozenset(r.strip() for r in internal_relays if r.strip())
        self._all_relays = bool(self.internal_relays)  # look at every relay= (else loopback)
        self.stats = ParseStats()
        # tag -> (program category, mapped IP or None)
        self._tags: dict[str, tuple[int, str | None]] = {}
        # relay as logged -> _NORMAL, _LOOPBACK or _INTERNAL
        self._relays: dict[str, int] = {}
        # classic "Nov 22 04:57" -> epochs of that minute in the anchor year and the 4 before
        self._classic: dict[str, tuple[float, ...]] = {}
        self._anchor = (0.0, -1.0)  # [start, end) of now()'s UTC year the cache is built for
        self._anchor_year = 0
        # RFC 3339 "minute|offset" -> epoch of that minute
        self._rfc: dict[str, float] = {}
        # -- state (get_state/set_state): candidate hops and re-injected ids --
        self._pending: dict[str, list[_Held]] = {}  # NEWID -> held lines, oldest first
        self._held = 0  # sum of len() of the pending lists
        self._recent: dict[str, None] = {}  # re-injected queue ids, oldest first
        self._lineno = 0  # lines fed since the state was empty (deadlines are relative)
        self._line_base = 0  # during feed: line number = stats.lines + _line_base
        self._released: list[Event] = []
        # Set by a backlog worker: the queue ids looked up in _recent and not found there
        # (the state before its split point might have held them; see split_merger).
        self._probe: set[str] | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Candidate hop lines held until resolved (counted in no stats field yet)."""
        return self._held

    def get_state(self) -> dict[str, Any]:
        if not self._pending and not self._recent:
            return {}
        return {
            "line": self._lineno,
            "pending": [[qid, [list(e) for e in held]] for qid, held in self._pending.items()],
            "recent": list(self._recent),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._pending = {}
        self._recent = {}
        self._held = 0
        self._lineno = 0
        if not isinstance(state, Mapping):
            return
        line = state.get("line")
        if isinstance(line, int) and not isinstance(line, bool) and line >= 0:
            self._lineno = line
        recent = state.get("recent")
        if isinstance(recent, list):
            for qid in recent[-RECENT_MAX:]:
                if isinstance(qid, str) and _qid_ok(qid):
                    self._recent[qid] = None
        pending = state.get("pending")
        if isinstance(pending, list):
            for item in pending:
                if (
                    isinstance(item, list)
                    and len(item) == 2
                    and isinstance(item[0], str)
                    and isinstance(item[1], list)
                ):
                    held = [list(e) for e in item[1] if _valid_held(e)]
                    if held and self._held + len(held) <= PENDING_MAX:
                        self._pending.setdefault(item[0], []).extend(held)
                        self._held += len(held)

    # -- feeding -------------------------------------------------------------------------

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        stats = self.stats
        parse = self._parse
        released = self._released
        self._now = now = self.now()
        self._max_ts = now + MAX_AHEAD
        # the line number is stats.lines + base (no per-line counter on the hot path)
        self._line_base = self._lineno - stats.lines
        for line in lines:
            stats.lines += 1
            try:
                ev = parse(line)
            except Exception:  # never raise on input, whatever the bytes
                stats.bad(line)
                ev = None
            if ev is not None:
                stats.events += 1
                if ev[2] is None:
                    stats.unattributed += 1
                yield ev
            if released:
                yield from self._drain()
        self._lineno = stats.lines + self._line_base if self._pending else 0

    def flush(self) -> list[Event]:
        """Release every held candidate as a real delivery (the end of a log that will not
        grow: a one-shot ``ingest``). Their events are counted in ``stats`` now."""
        self._release(len(self._pending))
        self._lineno = 0
        return list(self._drain())

    def _drain(self) -> Iterator[Event]:
        stats = self.stats
        out = list(self._released)
        self._released.clear()
        for ev in out:
            stats.events += 1
            if ev[2] is None:
                stats.unattributed += 1
            yield ev

    def _release(self, n: int) -> None:
        """The ``n`` oldest candidate groups become deliveries (queued for ``_drain``)."""
        pending = self._pending
        for _ in range(n):
            if not pending:
                break
            qid = next(iter(pending))
            for e in pending.pop(qid):
                self._held -= 1
                self._released.append(
                    _new(Event, (e[0], _KINDS[e[1]], e[2], None, e[3], e[4], e[5], e[6], "", ""))
                )

    def _age(self, ts: float | None) -> None:
        """Release the candidates whose bound passed (oldest first, as held)."""
        pending = self._pending
        limit_line = self.stats.lines + self._line_base - HOLD_LINES
        while pending:
            first = next(iter(pending.values()))[0]
            if (
                first[7] > limit_line
                and (ts is None or ts - first[0] <= HOLD_SECONDS)
                and self._held <= PENDING_MAX
            ):
                return
            self._release(1)

    def _seen(self, qid: str) -> None:
        """``qid`` appeared as a queue id: its held candidates were hops."""
        held = self._pending.pop(qid, None)
        if held is not None:
            self._held -= len(held)
            self.stats.internal += len(held)
            self._remember(qid)

    def _remember(self, qid: str) -> None:
        recent = self._recent
        if qid in recent:
            return
        if len(recent) >= RECENT_MAX:
            del recent[next(iter(recent))]
        recent[qid] = None

    # -- parsing -------------------------------------------------------------------------

    def _tag(self, tag: str) -> tuple[int, str | None]:
        info = self._tags.get(tag)
        if info is None:
            key, _, program = tag.rpartition("/")
            ip = self.ip_map.get(tag) or (self.ip_map.get(key) if key else None)
            cat = _OTHER
            if key:
                if program in DELIVERY_PROGRAMS:
                    cat = _AGENT
                elif program == "smtpd":
                    cat = _SMTPD
                elif program == "qmgr":
                    cat = _QMGR
            info = (cat, ip or None)
            if len(self._tags) >= _CACHE_MAX:
                self._tags.clear()
            self._tags[tag] = info
        return info

    def _relay(self, relay: str) -> int:
        """What ``relay=`` names: ``host[ip]:port``, ``host[ip]``, ``none``, ``dovecot``..."""
        kind = self._relays.get(relay)
        if kind is not None:
            return kind
        host, bracket, rest = relay.partition("[")
        ip, _, port = rest.partition("]")
        port = port[1:] if port.startswith(":") else ""
        keys = {relay, host} if not bracket else {relay}
        if port:
            keys.update((f"{host}:{port}", f"{ip}:{port}", f"[{ip}]:{port}"))
        if keys & self.internal_relays:
            kind = _INTERNAL
        elif bracket and (ip.startswith("127.") or ip == "::1"):
            kind = _LOOPBACK
        else:
            kind = _NORMAL
        if len(self._relays) >= _CACHE_MAX:
            self._relays.clear()
        self._relays[relay] = kind
        return kind

    def _smtpd(self, text: str, start: int) -> None:
        """``ID: client=host[127.0.0.1]``: a message re-injected by a local filter."""
        c = text.find(": client=", start, start + 30)
        if c < 0:
            return
        b = text.find("[", c + 9)
        if b >= 0 and (text.startswith("127.", b + 1) or text.startswith("::1]", b + 1)):
            qid = text[start:c]
            if _qid_ok(qid):
                self._remember(qid)

    def _parse(self, line: str) -> Event | None:
        stats = self.stats
        text = line.rstrip()
        if not text:
            stats.ignored += 1
            return None
        rfc = "0" <= text[0] <= "9"
        m = _RFC3339.match(text) if rfc else _CLASSIC.match(text)
        if m is None:
            stats.bad(line)
            return None
        tag = m.group(5 if rfc else 3)
        info = self._tags.get(tag) or self._tag(tag)
        start = m.end()
        pending = self._pending
        if pending:
            c = text.find(":", start, start + 30)
            if c > start:
                qid = text[start:c]
                if qid in pending:
                    self._seen(qid)
            if self._held:
                self._age(None)
        cat = info[0]
        if cat != _AGENT:
            if cat == _SMTPD:
                self._smtpd(text, start)
            elif (
                cat == _QMGR
                and text.endswith("returned to sender")
                and text.find(", status=expired", start) >= 0
            ):
                stats.expired += 1
                return None
            stats.ignored += 1
            return None
        k = text.find(" status=", start)
        if k < 0:
            stats.ignored += 1
            return None
        sp = text.find(" ", k + 8)
        if sp < 0:
            word, diag = text[k + 8 :], ""
        else:
            word, diag = text[k + 8 : sp], text[sp + 1 :]
        kind = _STATUS.get(word) or _STATUS.get(word.rstrip(","))
        if kind is None:
            # e.g. "status=undeliverable" from an address verification probe
            stats.ignored += 1
            return None
        ts = self._rfc_time(m) if rfc else self._classic_time(m)
        if ts is None or ts < MIN_TS or ts > self._max_ts:
            stats.bad(line)
            return None
        domain = ""
        e = start
        t = text.find("to=", start, k)
        if t > 0 and text[t - 1] == " ":
            if text[t + 3] == "<":
                a0 = t + 4
                e = text.find(">", a0, k)
            else:
                a0 = t + 3
                e = text.find(",", a0, k)
            if e >= 0:
                at = text.rfind("@", a0, e)
                domain = text[at + 1 if at >= 0 else a0 : e].lower()
            else:
                e = t
        else:
            t = start
        status = ""
        d = text.rfind(" dsn=", t, k)
        if d >= 0:
            status = text[d + 5 : k - 1] if text[k - 1] == "," else text[d + 5 : k]
            if len(status) > 9 or status[1:2] != ".":
                status = ""
        if diag[:1] == "(" and diag[-1:] == ")":
            diag = diag[1:-1]
        diag = diag[:1000]  # MAX_TEXT (a literal: no global lookup; no copy when shorter)
        ip = info[1]
        hard = kind is _BOUNCED and is_hard(status)
        # The first "[" after the recipient is the relay's address (relay=host[ip]:port).
        b = text.find("[", e, k)
        if self._all_relays or (
            b > 0
            and (
                (text[b + 1] == "1" and text.startswith("127.", b + 1))
                or (text[b + 1] == ":" and text.startswith("::1]", b + 1))
            )
        ):
            r = text.find(" relay=", start, k)
            if r >= 0:
                rend = text.find(",", r + 7, k)
                hop = self._relay(text[r + 7 : rend if rend >= 0 else k])
                if hop == _INTERNAL:
                    stats.internal += 1
                    return None
                if hop == _LOOPBACK and kind is _DELIVERED:
                    q = diag.rfind("queued as ")
                    if q >= 0:
                        qid = diag[q + 10 :].partition(" ")[0].rstrip(").,;")
                        if _qid_ok(qid):
                            if qid in self._recent:
                                stats.internal += 1
                                return None
                            if self._probe is not None:  # a backlog worker (split_merger)
                                self._probe.add(qid)
                            n = stats.lines + self._line_base
                            held = [ts, int(kind), ip, hard, domain, status, diag, n]
                            pending.setdefault(qid, []).append(held)
                            self._held += 1
                            if self._held > PENDING_MAX:
                                self._age(None)
                            return None
        if pending:
            self._age(ts)
        if ip is None:  # the map's key is the syslog name ("postfix/out2"), not the program
            stats.unmapped_name(tag.rpartition("/")[0] or tag)
        return _new(Event, (ts, kind, ip, None, hard, domain, status, diag, "", ""))

    def _classic_time(self, m: re.Match[str]) -> float | None:
        """``Nov 22 04:57:58`` as UTC in the newest year not more than a day after now()."""
        now = self._now
        start, end = self._anchor
        if not start <= now < end:
            self._set_anchor(now)
        minute, sec_s = m.group(1, 2)
        bases = self._classic.get(minute)
        if bases is None:
            bases = self._classic_bases(minute)
            if len(self._classic) >= _CACHE_MAX:
                self._classic.clear()
            self._classic[minute] = bases
        sec = int(sec_s)
        if not bases or sec > 60:
            return None
        limit = now + _DAY - sec
        for base in bases:
            if base <= limit:
                return base + sec
        return bases[-1] + sec

    def _set_anchor(self, now: float) -> None:
        year = time.gmtime(now).tm_year
        self._anchor = (
            float(calendar.timegm((year, 1, 1, 0, 0, 0))),
            float(calendar.timegm((year + 1, 1, 1, 0, 0, 0))),
        )
        self._anchor_year = year
        self._classic.clear()

    def _classic_bases(self, minute: str) -> tuple[float, ...]:
        """Epochs of ``Nov 22 04:57`` from the year after now()'s to four before, newest first.

        The year after is only ever chosen within the one-day tolerance: a line stamped
        ``Jan 1 00:00:05`` read at ``Dec 31 23:59:59`` (clock skew, or a host east of UTC
        logging local time).
        """
        mon_s, day_s, hm = minute.split()
        mon = _MONTHS.get(mon_s)
        hour, mi = int(hm[:2]), int(hm[3:5])
        if mon is None or hour > 23 or mi > 59:
            return ()
        day = int(day_s)
        out: list[float] = []
        for year in range(self._anchor_year + 1, self._anchor_year - 5, -1):
            if 1 <= day <= calendar.monthrange(year, mon)[1]:
                out.append(float(calendar.timegm((year, mon, day, hour, mi, 0))))
        return tuple(out)

    def _rfc_time(self, m: re.Match[str]) -> float | None:
        minute, sec_s, frac, tz = m.group(1, 2, 3, 4)
        key = f"{minute}|{tz or ''}"
        base = self._rfc.get(key)
        if base is None:
            try:
                dt = datetime.fromisoformat(f"{minute}:00{(tz or '').upper()}")
            except ValueError:
                return None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            base = dt.timestamp()
            if len(self._rfc) >= _CACHE_MAX:
                self._rfc.clear()
            self._rfc[key] = base
        sec = int(sec_s)
        if sec > 60:
            return None
        return base + sec + (float(frac) if frac else 0.0)


def split_merger(
    before: Mapping[str, Any], probe: set[str], last: Mapping[str, Any]
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """Can a backlog worker's reading of a file's second half, started with no state, stand
    for the reading in order? ``before`` is the state the first half ended with, ``probe``
    the queue ids the worker looked up in its re-injected ids and missed, ``last`` the
    worker's final state. Exact when no candidate hop was held at the split (a held one
    may be resolved by a line of the second half), no missed id was known before the split,
    and neither reading ever evicted a re-injected id. Returns the function that turns each
    of the worker's states into the state the in-order reading has there, or None."""
    if before.get("pending") or before.get("line", 0):
        return None
    prior = [q for q in before.get("recent") or [] if isinstance(q, str)]
    if not prior:
        return dict
    known = set(prior)
    added = list(last.get("recent") or [])
    if probe & known or len(added) >= RECENT_MAX or len(known.union(added)) > RECENT_MAX:
        return None

    def merge(state: dict[str, Any]) -> dict[str, Any]:
        recent = prior + [q for q in state.get("recent") or [] if q not in known]
        return {"line": state.get("line", 0), "pending": state.get("pending", []),
                "recent": recent}  # fmt: skip

    return merge
