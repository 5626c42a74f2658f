"""The parser contract every format implements.

A parser is a pure transformation from text lines to :class:`Event` s: no I/O, no clock
other than the ``now`` it is given (for year inference of classic syslog timestamps).
It may keep a little state across calls (PowerMTA's current header) so
that a file can be fed in batches; ``get_state``/``set_state`` let the ingest checkpoint
carry that state, so a re-run from a saved offset parses exactly as one clean run would.

Every line is counted: ``lines`` (all), ``events`` (yielded), ``ignored`` (well-formed but
not a delivery outcome: a Postfix qmgr line, a PowerMTA ``r`` record), ``malformed``
(unparseable; a few kept in ``samples``), ``unattributed`` (an event with no IP). Postfix
also counts ``internal`` (a hand-off to a local content filter: a hop, not a delivery) and
``expired`` (qmgr's message-level ``status=expired, returned to sender``); those lines are
counted there and not in ``ignored``. A parser never raises on input, whatever the bytes.

Bounds every parser applies (shared helpers below):

* a timestamp before 1990-01-01 or more than one day after ``now()`` is malformed (so
  nothing out of range reaches storage); ``now`` is read once per ``feed`` call;
* an IP is validated with :mod:`ipaddress` (once per distinct string, bounded cache) and
  stored in its normal form (IPv6 compressed, IPv4-mapped IPv6 as IPv4);
* text fields (diag) are cut at :data:`MAX_TEXT` characters; names (subuser, vmta) have
  control, bidi and other format characters removed and are cut at :data:`MAX_NAME`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsconsole.core.events import Event

MAX_SAMPLES = 5
MAX_UNMAPPED = 50  # distinct unmapped names remembered per batch
MAX_SAMPLE_CHARS = 300
MIN_TS = 631_152_000.0  # 1990-01-01T00:00:00Z: anything earlier is a broken clock or field
MAX_AHEAD = 86_400.0  # a timestamp more than a day after now() is malformed
MAX_TEXT = 1_000  # diag and other free text, characters
MAX_NAME = 128  # subuser / vmta names, characters
CACHE_MAX = 4096

Now = Callable[[], float]

# C0/C1 controls, DEL, and the Unicode format characters that reorder or hide text.
_NAME_JUNK = re.compile(
    "[\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff]"
)


def ts_ok(ts: float, now: float) -> bool:
    """Is ``ts`` a plausible event time (finite, >= 1990, at most a day after ``now``)?"""
    return MIN_TS <= ts <= now + MAX_AHEAD  # False for NaN too


def parse_ip(text: str) -> str | None:
    """``text`` as a normalised IP address, or None if it is not exactly one.

    No stripping: whitespace, a NUL, brackets or a port make it invalid. IPv6 comes back
    compressed (``2001:db8::1``) and an IPv4-mapped IPv6 as the IPv4 it maps, so one
    address never gets two keys that display differently.
    """
    if not text or len(text) > 64:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id is not None:
            return None
        mapped = addr.ipv4_mapped
        if mapped is not None:
            return str(mapped)
    return str(addr)


class IpCache(dict[str, str]):
    """:func:`parse_ip` once per distinct string (``ipaddress`` is slow), bounded.

    A dict of raw text -> normal form, ``""`` when invalid; on the hot path read it as
    ``cache.get(raw)`` and call :meth:`check` only when that is None (a miss).
    """

    def check(self, text: str) -> str:
        ip = parse_ip(text) or ""
        if len(self) >= CACHE_MAX:
            self.clear()
        self[text] = ip
        return ip


class NameCache(dict[str, str]):
    """:func:`clean_name` of the stripped text once per distinct string, bounded; same use
    as :class:`IpCache`."""

    def check(self, text: str) -> str:
        name = clean_name(text.strip())
        if len(self) >= CACHE_MAX:
            self.clear()
        self[text] = name
        return name


def clean_name(name: str) -> str:
    """A subuser/vmta name without control/bidi/format characters, cut at MAX_NAME."""
    if _NAME_JUNK.search(name) is not None:
        name = _NAME_JUNK.sub("", name)
    return name[:MAX_NAME]


def normalise_map(ip_map: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``ip_map`` with every valid IP value in normal form (others kept as given:
    the settings layer validates configuration)."""
    out: dict[str, str] = {}
    for k, v in (ip_map or {}).items():
        out[k] = (parse_ip(v) or v) if isinstance(v, str) else v
    return out


@dataclass
class ParseStats:
    lines: int = 0
    events: int = 0
    ignored: int = 0
    malformed: int = 0
    unattributed: int = 0
    samples: list[str] = field(default_factory=list)
    internal: int = 0  # Postfix: hand-offs to a local content filter (hops, not deliveries)
    expired: int = 0  # Postfix: qmgr "status=expired, returned to sender" (message level)
    # Names (vmta, syslog name, egress source) that the IP map lacked: name -> events.
    unmapped: dict[str, int] = field(default_factory=dict)

    def unmapped_name(self, name: str) -> None:
        """An event of ``name`` stayed unattributed for want of an --ip-map entry."""
        u = self.unmapped
        if name in u or len(u) < MAX_UNMAPPED:
            u[name] = u.get(name, 0) + 1

    def bad(self, line: str) -> None:
        """Count one malformed line and keep it (truncated) if there is room."""
        self.malformed += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(line[:MAX_SAMPLE_CHARS])

    def absorb(self, later: ParseStats) -> None:
        """Add the counts of the batch that follows (storage keeps the newest samples)."""
        for name in ("lines", "events", "ignored", "malformed", "unattributed", "internal",
                     "expired"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(later, name))
        self.samples = self.samples + later.samples
        for name, n in later.unmapped.items():
            if name in self.unmapped or len(self.unmapped) < MAX_UNMAPPED:
                self.unmapped[name] = self.unmapped.get(name, 0) + n

    def take(self) -> ParseStats:
        """Return the counts so far and reset them (per ingest batch)."""
        out = ParseStats(
            self.lines,
            self.events,
            self.ignored,
            self.malformed,
            self.unattributed,
            self.samples,
            self.internal,
            self.expired,
            self.unmapped,
        )
        self.lines = self.events = self.ignored = self.malformed = self.unattributed = 0
        self.internal = self.expired = 0
        self.samples = []
        self.unmapped = {}
        return out


class LineParser:
    """One event (or none) per line: the never-raise loop every single-event format shares.

    Subclasses set ``self.stats = ParseStats()`` and implement ``_parse(line)``, which may
    raise on anything malformed: the loop counts it and keeps the line as a sample. Stateless
    by default; a format with state (PowerMTA's header) overrides ``get_state``/``set_state``.
    """

    stats: ParseStats
    now: Now
    _now: float = 0.0  # now() as read at the start of the current feed call
    _max_ts: float = 0.0  # _now + MAX_AHEAD: the latest acceptable timestamp

    def _parse(self, line: str) -> Event | None:
        raise NotImplementedError

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        return None

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        stats = self.stats
        parse = self._parse
        self._now = now = self.now()
        self._max_ts = now + MAX_AHEAD
        for line in lines:
            stats.lines += 1
            try:
                ev = parse(line)
            except Exception:  # never raise on input, whatever the bytes
                stats.bad(line)
                continue
            if ev is not None:
                stats.events += 1
                if ev.ip is None:
                    stats.unattributed += 1
                yield ev


class Parser(Protocol):
    format: str
    stats: ParseStats

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        """Events from ``lines`` (each without or with its trailing newline)."""
        ...

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable state needed to resume after the lines fed so far."""
        ...

    def set_state(self, state: Mapping[str, Any]) -> None: ...
