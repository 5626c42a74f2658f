"""PowerMTA accounting CSV.

RFC 4180 CSV with a header line whose first column is ``type``. Columns are always mapped by
header name, because ``record-fields`` reorders and drops them, and a pipe target restarts
with a fresh header in mid-stream, so a header line anywhere replaces the mapping.

Decisions where the PowerMTA guide is silent:

* A line without any ``"`` is split on ``,`` (identical to ``csv.reader`` for unquoted RFC 4180
  and about twice as fast); quoted lines go through one persistent ``csv.reader``.
* Each line is parsed on its own: a quoted field left open at the end of the line is
  malformed (we never let one stray quote swallow the following lines).
* A row whose field count differs from the header's is malformed; a well-formed row with an
  unknown record type is ignored.
* ``timeLogged`` without a UTC offset is taken as UTC; an all-digit value is Unix seconds.
* ``tq`` (transient per queue) is ignored: it is not a per-recipient deferral.
* Attribution: ``dlvSourceIp`` when set; a feedback-loop (``f``) row first uses
  ``repSourceIp`` (the IP the ISP's report names) when it is a valid IP. Else the ``vmta``
  name, then ``vmtaPool``, through the map. A ``dlvSourceIp`` that is set but not exactly a
  valid IPv4/IPv6 address (``999.1.1.1``, a NUL, spaces) makes the row malformed: PowerMTA
  writes only real addresses there. An invalid ``repSourceIp`` is third-party data from the
  report: it is skipped and the row attributed by the other rules.
* A ``timeLogged`` before 1990 or more than a day after ``now()`` is malformed (a 20-digit
  or 12-digit number included).
* ``bounceCat`` of a non-delivery is passed through as ``Event.category``; ``vmta`` names
  lose control and bidi characters and are cut at 128 characters; ``dsnDiag`` at 1,000.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opsconsole.core.classify import enhanced_code, is_hard
from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.base import (
    MAX_TEXT,
    MIN_TS,
    IpCache,
    LineParser,
    NameCache,
    Now,
    ParseStats,
    normalise_map,
)

_DELIVERED = Kind.DELIVERED
_BOUNCED = Kind.BOUNCED
_DEFERRED = Kind.DEFERRED
_COMPLAINED = Kind.COMPLAINED

# Record type -> Kind, or None for well-formed records that are not a recipient outcome.
_TYPES: dict[str, Kind | None] = {
    "d": _DELIVERED,
    "delivery": _DELIVERED,
    "b": _BOUNCED,
    "bounce": _BOUNCED,
    "rb": _BOUNCED,
    "remote-bounce": _BOUNCED,
    "t": _DEFERRED,
    "transient": _DEFERRED,
    "f": _COMPLAINED,
    "feedback-loop": _COMPLAINED,
    "feedback": _COMPLAINED,
    "tq": None,
    "transient-queue": None,
    "r": None,
    "receipt": None,
    "received": None,
    "rs": None,
    "remote-status": None,
}

# The documented full accounting header (domain/formats.md), then the feedback-loop
# columns: a file holding d, b, t and f records carries the union of both. The simulator
# writes exactly these; the parser knows them all.
PMTA_COMMON_HEADER: tuple[str, ...] = (
    *("type", "timeLogged", "timeQueued", "orig", "rcpt", "orcpt", "dsnAction", "dsnStatus"),
    *("dsnDiag", "dsnMta", "bounceCat", "srcType", "srcMta", "dlvType", "dlvSourceIp"),
    *("dlvDestinationIp", "dlvEsmtpAvailable", "dlvSize", "vmta", "jobId", "envId", "queue"),
    "vmtaPool",
)
PMTA_HEADER: tuple[str, ...] = (*PMTA_COMMON_HEADER, "repSourceIp", "feedbackType", "format")
_FBL_EXTRA = ("header_From", "header_Subject", "userAgent", "reportingMTA", "arrivalDate")
# Column names that make a ``type,...`` line a header rather than a record.
_KNOWN_COLUMNS = frozenset(c.lower() for c in (*PMTA_HEADER[1:], *_FBL_EXTRA))

_CACHE_MAX = 4096
# Event(...) runs a Python-level __new__; tuple.__new__ builds the same NamedTuple 3x faster.
_new = tuple.__new__


class _OneLine:
    """The iterator a persistent ``csv.reader`` reads from: exactly one line per row.

    ``wanted_more`` records that the reader asked for a continuation line (an unterminated
    quoted field), which we treat as malformed instead of joining lines.
    """

    __slots__ = ("line", "wanted_more")

    def __init__(self) -> None:
        self.line: str | None = None
        self.wanted_more = False

    def __iter__(self) -> _OneLine:
        return self

    def __next__(self) -> str:
        line = self.line
        if line is None:
            self.wanted_more = True
            raise StopIteration
        self.line = None
        return line


class _Columns:
    """Indexes of the columns we use in the current header (-1 when absent)."""

    __slots__ = (
        "bounce_cat",
        "diag",
        "dlv_ip",
        "n",
        "names",
        "rcpt",
        "rep_ip",
        "status",
        "time",
        "vmta",
        "vmta_pool",
    )

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self.n = len(names)
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            index.setdefault(name.strip().lower(), i)
        get = index.get
        self.time = get("timelogged", -1)
        self.rcpt = get("rcpt", -1)
        self.status = get("dsnstatus", -1)
        self.diag = get("dsndiag", -1)
        self.bounce_cat = get("bouncecat", -1)
        self.dlv_ip = get("dlvsourceip", -1)
        self.rep_ip = get("repsourceip", -1)
        self.vmta = get("vmta", -1)
        self.vmta_pool = get("vmtapool", -1)


def _is_header(row: list[str]) -> bool:
    if not row or row[0].strip().lower() != "type":
        return False
    return any(name.strip().lower() in _KNOWN_COLUMNS for name in row[1:])


def _split_quoted(text: str) -> list[str] | None:
    """Fast path for the common quoted line (``...,"ENHANCEDSTATUSCODES,8BITMIME",...``).

    Handles whole fields in quotes without doubled quotes; returns None for anything else,
    which then goes through ``csv.reader``.
    """
    parts = text.split('"')
    n = len(parts)
    if not n & 1 or '""' in text:
        return None
    row = parts[0].split(",")
    for i in range(1, n, 2):
        after = parts[i + 1]
        if row[-1] or (after and after[0] != ","):
            return None  # a quote inside a field: let csv.reader apply its rules
        row[-1] = parts[i]
        if after:
            rest = after.split(",")
            rest[0] = row.pop()
            row.extend(rest)
    return row


class PmtaParser(LineParser):
    """PowerMTA accounting records to events; see the module docstring for the rules."""

    format = "pmta"

    def __init__(self, ip_map: Mapping[str, str] | None = None, *, now: Now) -> None:
        self.ip_map: dict[str, str] = normalise_map(ip_map)
        self.now: Now = now
        self.stats = ParseStats()
        self._ips = IpCache()
        self._names = NameCache()  # raw vmta / bounceCat -> stripped and cleaned
        self._cols: _Columns | None = None
        self._feeder = _OneLine()
        self._reader = csv.reader(self._feeder)
        self._minute_cache: dict[str, float] = {}
        self._status_cache: dict[str, str] = {}
        self._last_time = ""  # the previous timeLogged and its value: most lines repeat it
        self._last_ts = 0.0

    # -- state ---------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        return {"header": list(self._cols.names) if self._cols is not None else None}

    def set_state(self, state: Mapping[str, Any]) -> None:
        header = state.get("header") if isinstance(state, Mapping) else None
        if isinstance(header, list) and header and all(isinstance(h, str) for h in header):
            self._cols = _Columns(header)
        else:
            self._cols = None

    # -- parsing -------------------------------------------------------------------------

    def _split(self, text: str) -> list[str] | None:
        """The fields of one CSV line, or None if the line is not valid CSV on its own."""
        if '"' not in text:
            return text.split(",")
        row = _split_quoted(text)
        if row is not None:
            return row
        feeder = self._feeder
        feeder.line = text
        feeder.wanted_more = False
        try:
            row = next(self._reader)
        except (csv.Error, StopIteration):
            feeder.line = None
            return None
        if feeder.wanted_more:  # quoted field still open at the end of the line
            return None
        return row

    def _parse(self, line: str) -> Event | None:
        """One line: an event, or None after counting it ignored/malformed."""
        stats = self.stats
        text = line.rstrip("\r\n")
        if not text.strip():
            stats.ignored += 1
            return None
        row = self._split(text)
        if row is None:
            stats.bad(line)
            return None
        cols = self._cols
        rtype = row[0]
        if (rtype == "type" or rtype.strip().lower() == "type") and _is_header(row):
            self._cols = _Columns(row)
            stats.ignored += 1
            return None
        if cols is None or len(row) != cols.n:
            stats.bad(line)
            return None
        try:
            kind = _TYPES[rtype]
        except KeyError:
            key = rtype.strip().lower()
            if key not in _TYPES:
                stats.ignored += 1  # well-formed record of a type we do not know
                return None
            kind = _TYPES[key]
        if kind is None:
            stats.ignored += 1
            return None
        if cols.time < 0:
            stats.bad(line)
            return None
        ts = self._time(row[cols.time])
        if ts is None or not MIN_TS <= ts <= self._max_ts:
            stats.bad(line)
            return None

        ips = self._ips
        names = self._names
        ip: str | None = ""
        if kind is _COMPLAINED and cols.rep_ip >= 0:
            rep = row[cols.rep_ip]
            if rep:
                ip = ips.get(rep)
                if ip is None:
                    ip = ips.check(rep)
        if not ip and cols.dlv_ip >= 0:
            raw = row[cols.dlv_ip]
            if raw:
                ip = ips.get(raw)
                if ip is None:
                    ip = ips.check(raw)
                if not ip:
                    stats.bad(line)
                    return None
        vmta = row[cols.vmta] if cols.vmta >= 0 else ""
        if vmta:
            vmta = names.get(vmta) or names.check(vmta)
        if not ip:
            ip_map = self.ip_map
            ip = ip_map.get(vmta, "") if vmta else ""
            if not ip and cols.vmta_pool >= 0:
                pool = row[cols.vmta_pool].strip()
                if pool:
                    ip = ip_map.get(pool, "")
            if not ip and vmta:
                stats.unmapped_name(vmta)

        status = ""
        if cols.status >= 0:
            raw = row[cols.status]
            status = self._status_cache.get(raw, "")
            if not status and raw:
                status = enhanced_code(raw)
                if len(self._status_cache) >= _CACHE_MAX:
                    self._status_cache.clear()
                self._status_cache[raw] = status
        category = row[cols.bounce_cat] if cols.bounce_cat >= 0 and kind is not _DELIVERED else ""
        if category:
            category = names.get(category) or names.check(category)
        hard = kind is _BOUNCED and is_hard(status, category)
        domain = ""
        if cols.rcpt >= 0:
            domain = row[cols.rcpt].rpartition("@")[2].strip().strip("<>")[:255].lower()
        diag = row[cols.diag] if cols.diag >= 0 else ""
        if len(diag) > MAX_TEXT:
            diag = diag[:MAX_TEXT]
        return _new(
            Event,
            (ts, kind, ip or None, vmta or None, hard, domain, status, diag, category, ""),
        )

    def _time(self, value: str) -> float | None:
        """``2019-02-08 21:54:05+0000`` (cached per minute) or Unix seconds; None if neither."""
        if value == self._last_time:
            return self._last_ts
        s = value.strip()
        if len(s) >= 19 and s[4] == "-" and s[16] == ":":
            sec = s[17:19]
            if not sec.isdigit() or sec > "60":
                return None
            key = s[:16] + s[19:]
            base = self._minute_cache.get(key)
            if base is None:
                try:
                    dt = datetime.fromisoformat(s[:16] + ":00" + s[19:])
                except ValueError:
                    return None
                if dt.tzinfo is None:
                    dt = dt.replace(tzinfo=UTC)
                base = dt.timestamp()
                if len(self._minute_cache) >= _CACHE_MAX:
                    self._minute_cache.clear()
                self._minute_cache[key] = base
            ts = base + int(sec)
            self._last_time = value
            self._last_ts = ts
            return ts
        if s[:1].isdigit() and len(s) <= 24:
            try:
                ts = float(s)
            except ValueError:
                return None
            return ts if math.isfinite(ts) else None
        return None
