"""The project's own event format: one JSON object per line, one recipient per object.

Written by the simulator and the ESP adapters, read by ``--format jsonl``::

    {"ts": 1767225600.0, "kind": "bounced", "ip": "203.0.113.5", "subuser": null,
     "hard": true, "rcpt_domain": "example.com", "status": "5.1.1", "diag": "550 5.1.1 ..."}

``ts`` is Unix seconds or an ISO 8601 string (``2026-01-01T00:00:00Z``; without an offset,
UTC). ``kind`` is delivered, bounced, deferred or complained (case-insensitive). When ``ip``
is null, an optional ``source`` name is mapped through ``ip_map``. Missing optional fields
take the :class:`Event` defaults; a field of the wrong type makes the line malformed. A
well-formed object with another ``kind`` (a future "opened") is ignored. Optional
``category`` and ``provider`` strings fill the Event fields of those names (the writer puts
them only when set).

Bounds: a ``ts`` before 1990 or more than a day after ``now()`` is malformed; an ``ip`` that
is set but not exactly a valid IPv4/IPv6 address is malformed (this is our own format: the
writer only writes valid ones), and a valid one is normalised (IPv6 compressed); ``subuser``
loses control and bidi characters and is cut at 128 characters; ``diag`` at 1,000.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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

_KINDS: dict[str, Kind] = {k.name.lower(): k for k in Kind}
_decode = json.JSONDecoder().decode
_new = tuple.__new__
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def event_to_jsonl(ev: Event) -> str:
    """One line (without newline) that :class:`JsonlParser` reads back as ``ev``."""
    obj: dict[str, Any] = {
        "ts": float(ev.ts),
        "kind": Kind(ev.kind).name.lower(),
        "ip": ev.ip,
        "subuser": ev.subuser,
        "hard": bool(ev.hard),
        "rcpt_domain": ev.rcpt_domain,
        "status": ev.status,
        "diag": ev.diag,
    }
    if ev.category:
        obj["category"] = ev.category
    if ev.provider:
        obj["provider"] = ev.provider
    return _encode(obj)


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    """``obj[key]`` if a string, None if absent/null; raises TypeError on another type."""
    v = obj.get(key)
    if v is None or isinstance(v, str):
        return v
    raise TypeError(key)


def _ts(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        ts = float(value)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ts = dt.timestamp()
    else:
        return None
    return ts if math.isfinite(ts) else None


class JsonlParser(LineParser):
    """Project JSONL events; see the module docstring for the rules."""

    format = "jsonl"

    def __init__(self, ip_map: Mapping[str, str] | None = None, *, now: Now) -> None:
        self.ip_map: dict[str, str] = normalise_map(ip_map)
        self.now: Now = now
        self.stats = ParseStats()
        self._ips = IpCache()
        self._names = NameCache()

    def _parse(self, line: str) -> Event | None:
        stats = self.stats
        text = line.strip()
        if not text:
            stats.ignored += 1
            return None
        if text[0] != "{":
            stats.bad(line)
            return None
        try:
            obj = _decode(text)
        except ValueError:
            stats.bad(line)
            return None
        if not isinstance(obj, dict):
            stats.bad(line)
            return None
        ts = _ts(obj.get("ts"))
        kind_s = obj.get("kind")
        if ts is None or not MIN_TS <= ts <= self._max_ts or not isinstance(kind_s, str):
            stats.bad(line)
            return None
        kind = _KINDS.get(kind_s.strip().lower())
        if kind is None:
            stats.ignored += 1
            return None
        hard = obj.get("hard", False)
        if hard is None:
            hard = False
        try:
            ip = _opt_str(obj, "ip")
            subuser = _opt_str(obj, "subuser")
            domain = _opt_str(obj, "rcpt_domain") or ""
            status = _opt_str(obj, "status") or ""
            diag = _opt_str(obj, "diag") or ""
            source = _opt_str(obj, "source")
            category = _opt_str(obj, "category") or ""
            provider = _opt_str(obj, "provider") or ""
        except TypeError:
            stats.bad(line)
            return None
        if not isinstance(hard, bool):
            stats.bad(line)
            return None
        if ip:
            ip = self._ips.get(ip) or self._ips.check(ip)
            if not ip:
                stats.bad(line)
                return None
        else:
            ip = self.ip_map.get(source) if source else None
            if source and ip is None:
                self.stats.unmapped_name(source)
        names = self._names
        if subuser:
            subuser = names.get(subuser) or names.check(subuser) or None
        if category:
            category = names.get(category) or names.check(category)
        if provider:
            provider = names.get(provider) or names.check(provider)
        return _new(
            Event,
            (
                ts,
                kind,
                ip or None,
                subuser,
                hard,
                domain[:255].lower(),
                status[:16],
                diag[:MAX_TEXT],
                category,
                provider,
            ),
        )
