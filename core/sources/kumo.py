"""KumoMTA JSON log records, one object per line.

Record types: ``Delivery`` -> delivered; ``Bounce``, ``Expiration``, ``AdminBounce``, ``OOB``
-> bounced; ``TransientFailure`` -> deferred; ``Feedback`` -> complained. ``Reception``,
``Rejection`` (an *inbound* SMTP rejection by KumoMTA itself, nothing to do with the sending
IPs' reputation) and internal types are ignored.

Attribution: ``source_address.address`` (``10.0.0.1:53210``, ``[2001:db8::1]:25``) when
present and a valid IP, else ``egress_source`` through the map, else unattributed.

Decisions where the docs are silent: a ``recipient`` list gives one event per recipient (an
empty list is ignored); a recipient that is neither a string nor a list of strings, a missing
or non-string ``type``, or a non-numeric/non-finite ``timestamp`` on an outcome record is
malformed. The enhanced status comes from ``response.enhanced_code``, falling back to the
first ``X.Y.Z`` in ``response.content``.

Bounds: a ``timestamp`` that is not a finite number from 1990 to one day after ``now()``
(``1e19``, ``inf``, ``nan``, negative) is malformed. ``source_address`` is optional, so one
that is not a valid IP (``999.1.1.1:25``, ``[/x]``, a NUL) is skipped and the record falls
back to ``egress_source`` (then unattributed). ``bounce_classification`` of a non-delivery
is passed through as ``Event.category`` and ``provider_name`` as ``Event.provider``; the
tenant loses control and bidi characters and is cut at 128 characters, ``response.content``
at 1,000.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

from opsconsole.core.classify import enhanced_code, is_hard
from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.base import (
    MAX_AHEAD,
    MAX_TEXT,
    MIN_TS,
    LineParser,
    NameCache,
    Now,
    ParseStats,
    normalise_map,
    parse_ip,
)

_TYPES: dict[str, Kind | None] = {
    "Delivery": Kind.DELIVERED,
    "Bounce": Kind.BOUNCED,
    "Expiration": Kind.BOUNCED,
    "AdminBounce": Kind.BOUNCED,
    "OOB": Kind.BOUNCED,
    "TransientFailure": Kind.DEFERRED,
    "Feedback": Kind.COMPLAINED,
    "Reception": None,
    "Rejection": None,
}
_CACHE_MAX = 4096
_decode = json.JSONDecoder().decode
_new = tuple.__new__
_DELIVERED = Kind.DELIVERED


def source_ip(address: str) -> str | None:
    """The IP of ``10.0.0.1:53210``, ``[::1]:25``, ``10.0.0.1`` or ``::1``; None if invalid."""
    a = address
    if a.startswith("["):
        host = a[1 : a.find("]")] if "]" in a else ""
    elif a.count(":") == 1:
        host = a.partition(":")[0]
    else:
        host = a
    return parse_ip(host)


def _domain(rcpt: str) -> str:
    return rcpt.rpartition("@")[2].strip("<> ")[:255].lower()


class KumoParser(LineParser):
    """KumoMTA log records to events; see the module docstring for the rules."""

    format = "kumo"

    def __init__(self, ip_map: Mapping[str, str] | None = None, *, now: Now) -> None:
        self.ip_map: dict[str, str] = normalise_map(ip_map)
        self.now: Now = now
        self.stats = ParseStats()
        self._addr_cache: dict[str, str | None] = {}
        self._names = NameCache()

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        stats = self.stats
        parse = self._parse_all
        self._now = now = self.now()
        self._max_ts = now + MAX_AHEAD
        for line in lines:
            stats.lines += 1
            try:
                events = parse(line)
            except Exception:  # never raise on input (RecursionError on deep nesting too)
                stats.bad(line)
                continue
            for ev in events:
                stats.events += 1
                if ev.ip is None:
                    stats.unattributed += 1
                yield ev

    def _ip(self, address: str) -> str | None:
        cache = self._addr_cache
        if address in cache:
            return cache[address]
        ip = source_ip(address)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[address] = ip
        return ip

    def _parse_all(self, line: str) -> list[Event]:
        stats = self.stats
        text = line.strip()
        if not text:
            stats.ignored += 1
            return []
        if text[0] != "{":
            stats.bad(line)
            return []
        try:
            obj = _decode(text)
        except ValueError:
            stats.bad(line)
            return []
        rtype = obj.get("type") if isinstance(obj, dict) else None
        if not isinstance(rtype, str):
            stats.bad(line)
            return []
        kind = _TYPES.get(rtype)
        if kind is None:
            stats.ignored += 1  # Reception, Rejection, internal types
            return []
        ts = obj.get("timestamp")
        if (
            not isinstance(ts, int | float)
            or isinstance(ts, bool)
            or not MIN_TS <= ts <= self._max_ts  # False for NaN, inf, 1e19
        ):
            stats.bad(line)
            return []

        rcpt = obj.get("recipient")
        if rcpt is None:
            rcpts: list[str] = [""]
        elif isinstance(rcpt, str):
            rcpts = [rcpt]
        elif isinstance(rcpt, list) and all(isinstance(r, str) for r in rcpt):
            rcpts = rcpt
            if not rcpts:
                stats.ignored += 1
                return []
        else:
            stats.bad(line)
            return []

        ip: str | None = None
        src = obj.get("source_address")
        if isinstance(src, dict):
            addr = src.get("address")
            if isinstance(addr, str) and addr:
                ip = self._ip(addr)
        if ip is None:
            egress = obj.get("egress_source")
            if isinstance(egress, str) and egress:
                ip = self.ip_map.get(egress) or None
                if ip is None:
                    self.stats.unmapped_name(egress)

        subuser: str | None = None
        meta = obj.get("meta")
        tenant = meta.get("tenant") if isinstance(meta, dict) else None
        if tenant is None:
            tenant = obj.get("tenant")
        if isinstance(tenant, str) and tenant:
            subuser = self._names.get(tenant) or self._names.check(tenant) or None

        status = ""
        diag = ""
        response = obj.get("response")
        if isinstance(response, dict):
            content = response.get("content")
            if isinstance(content, str):
                diag = content[:MAX_TEXT]
            ec = response.get("enhanced_code")
            if isinstance(ec, dict):
                parts = (ec.get("class"), ec.get("subject"), ec.get("detail"))
                if all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
                    status = "{}.{}.{}".format(*parts)
            if not status and diag:
                status = enhanced_code(diag)

        cat = obj.get("bounce_classification")
        names = self._names
        category = ""
        if cat and isinstance(cat, str) and kind is not _DELIVERED:
            category = names.get(cat) or names.check(cat)
        hard = kind is Kind.BOUNCED and is_hard(status, category)
        prov = obj.get("provider_name")
        provider = ""
        if prov and isinstance(prov, str):
            provider = names.get(prov) or names.check(prov)

        ts = float(ts)
        return [
            _new(
                Event,
                (ts, kind, ip, subuser, hard, _domain(r), status, diag, category, provider),
            )
            for r in rcpts
        ]
