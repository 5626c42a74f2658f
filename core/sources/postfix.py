"""Postfix syslog / ``maillog_file`` lines.

Only ``status=sent|deferred|bounced`` lines written by a delivery agent (smtp, lmtp, error,
discard, virtual, local) are events; every other Postfix line (qmgr, pickup, cleanup, bounce,
scache, smtp connection warnings...) is ignored, and a line that is not syslog-shaped is
malformed.

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
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from opsconsole.core.classify import is_hard
from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.base import LineParser, ParseStats

DELIVERY_PROGRAMS = frozenset({"smtp", "lmtp", "error", "discard", "virtual", "local"})

_STATUS: dict[str, Kind] = {
    "sent": Kind.DELIVERED,
    "bounced": Kind.BOUNCED,
    "deferred": Kind.DEFERRED,
}
_BOUNCED = Kind.BOUNCED
# Syslog writes English month names whatever the locale (calendar.month_abbr would follow it).
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_DAY = 86_400.0
_CACHE_MAX = 4096

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


class PostfixParser(LineParser):
    """Postfix log lines to events; see the module docstring for the rules."""

    format = "postfix"

    def __init__(
        self,
        ip_map: Mapping[str, str] | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.ip_map: dict[str, str] = dict(ip_map or {})
        self.now: Callable[[], float] = now or time.time
        self.stats = ParseStats()
        # tag -> (is a delivery agent, mapped IP or None)
        self._tags: dict[str, tuple[bool, str | None]] = {}
        # classic "Nov 22 04:57" -> epochs of that minute in the anchor year and the 4 before
        self._classic: dict[str, tuple[float, ...]] = {}
        self._anchor = (0.0, -1.0)  # [start, end) of now()'s UTC year the cache is built for
        self._anchor_year = 0
        # RFC 3339 "minute|offset" -> epoch of that minute
        self._rfc: dict[str, float] = {}

    # Stateless between lines: the year comes from now(), not from earlier lines.
    def _tag(self, tag: str) -> tuple[bool, str | None]:
        info = self._tags.get(tag)
        if info is None:
            key, _, program = tag.rpartition("/")
            ip = self.ip_map.get(tag) or (self.ip_map.get(key) if key else None)
            info = (program in DELIVERY_PROGRAMS and bool(key), ip or None)
            if len(self._tags) >= _CACHE_MAX:
                self._tags.clear()
            self._tags[tag] = info
        return info

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
        k = text.find(" status=", start)
        if k < 0 or not info[0]:
            stats.ignored += 1
            return None
        sp = text.find(" ", k + 8)
        if sp < 0:
            word, diag = text[k + 8 :], ""
        else:
            word, diag = text[k + 8 : sp], text[sp + 1 :]
        kind = _STATUS.get(word) or _STATUS.get(word.rstrip(","))
        t = text.find("to=<", start, k)
        e = text.find(">", t + 4, k)
        if kind is None or t < 0 or e < 0:
            # e.g. "status=undeliverable" from an address verification probe
            stats.ignored += 1
            return None
        ts = self._rfc_time(m) if rfc else self._classic_time(m)
        if ts is None:
            stats.bad(line)
            return None
        status = ""
        d = text.rfind(" dsn=", t, k)
        if d >= 0:
            status = text[d + 5 : k - 1] if text[k - 1] == "," else text[d + 5 : k]
            if len(status) > 9 or status[1:2] != ".":
                status = ""
        at = text.rfind("@", t, e)
        if diag[:1] == "(" and diag[-1:] == ")":
            diag = diag[1:-1]
        return _new(
            Event,
            (
                ts,
                kind,
                info[1],
                None,
                kind is _BOUNCED and is_hard(status),
                text[(at if at >= 0 else t + 3) + 1 : e].lower(),
                status,
                diag,
            ),
        )

    def _classic_time(self, m: re.Match[str]) -> float | None:
        """``Nov 22 04:57:58`` as UTC in the newest year not more than a day after now()."""
        now = self.now()
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
