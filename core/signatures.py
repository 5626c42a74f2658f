"""Provider responses that mean "blocked here" or "slow down", and a window counter for them.

A rate threshold needs many bounces before it breaches; a provider's block response says so
at once. Recognising them (Yahoo ``[TS03]``, Microsoft ``S3150``, a Spamhaus listing) lets
the policy raise a provider-scoped alert after a few hits, well below the rate thresholds.

:meth:`SignatureSet.match` runs per bounce or deferral. Every pattern sits in one compiled
alternation, so a diagnostic that matches nothing costs a single regex search; only a hit
looks at the rows one by one, to honour their order (first row wins, operator rows first).
A signature's ``provider`` says whose reply it is (``any`` for blocklists named by anyone);
the caller attributes the hit to the event's own provider.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from opsconsole.core.signature_data import BUILTIN_SIGNATURES, SIGNATURES_VERSION

__all__ = [
    "KINDS",
    "SIGNATURES_VERSION",
    "Signature",
    "SignatureCounts",
    "SignatureSet",
    "signatures_from_config",
]

KINDS: Final = frozenset({"block", "throttle", "blocklist", "auth"})
_FLAGS: Final = re.IGNORECASE | re.DOTALL
_GLOBAL_FLAGS_RE = re.compile(r"\A\(\?([aiLmsux]+)\)")
_NUMBERED_BACKREF_RE = re.compile(r"(?<!\\)\\[1-9]")


@dataclass(frozen=True, slots=True)
class Signature:
    """One recognisable provider response."""

    id: str  # stable, e.g. "yahoo.ts03"
    provider: str  # a provider name, or "any"
    kind: str  # one of KINDS
    pattern: str  # regex, matched case-insensitively
    meaning: str  # short human text for alerts

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("signature without an id")
        if self.kind not in KINDS:
            raise ValueError(f"signature {self.id!r}: kind {self.kind!r} not in {sorted(KINDS)}")
        try:
            re.compile(self.pattern, _FLAGS)
        except re.error as e:
            raise ValueError(f"signature {self.id!r}: bad pattern: {e}") from e
        if _NUMBERED_BACKREF_RE.search(self.pattern):
            # Group numbers shift inside the union; a named group (?P=name) works.
            raise ValueError(f"signature {self.id!r}: use a named backreference, not \\N")


BUILTIN: Final = tuple(Signature(*row) for row in BUILTIN_SIGNATURES)


def signatures_from_config(rows: Iterable[Mapping[str, str]]) -> tuple[Signature, ...]:
    """Operator rows ``{id, provider, kind, pattern, meaning}``; ``provider`` defaults to
    ``any`` and ``meaning`` to the id. Raises ValueError naming the bad row."""
    out: list[Signature] = []
    for row in rows:
        try:
            out.append(
                Signature(
                    id=row["id"],
                    provider=row.get("provider", "any").lower(),
                    kind=row["kind"],
                    pattern=row["pattern"],
                    meaning=row.get("meaning") or row["id"],
                )
            )
        except KeyError as e:
            raise ValueError(f"signature row {dict(row)!r}: missing {e.args[0]!r}") from e
    return tuple(out)


def _scoped(pattern: str) -> str:
    """A leading ``(?i)``-style flag group becomes scoped, so it may sit inside the union."""
    m = _GLOBAL_FLAGS_RE.match(pattern)
    if m is None:
        return pattern
    return f"(?{m.group(1)}:{pattern[m.end() :]})"


class SignatureSet:
    """The built-in signatures under the operator's, compiled into one alternation.

    An operator row with a built-in id replaces that row; other operator rows are tried before
    every built-in one, so an operator can refine a generic match.
    """

    __slots__ = ("_by_group", "_compiled", "_union", "signatures")

    def __init__(self, extra: Iterable[Signature] = (), *, builtin: bool = True) -> None:
        extra = tuple(extra)
        ids = {s.id for s in extra}
        if len(ids) != len(extra):
            raise ValueError("duplicate signature ids among the operator's rows")
        base = tuple(s for s in BUILTIN if s.id not in ids) if builtin else ()
        self.signatures: tuple[Signature, ...] = extra + base
        self._compiled = tuple(re.compile(s.pattern, _FLAGS) for s in self.signatures)
        # Each row sits in its own named group; the row's own groups are nested inside it, so
        # the wrapper closes last and ``lastgroup`` names the row that matched.
        self._union: re.Pattern[str] | None = None
        if self.signatures:
            union = "|".join(
                f"(?P<_sig{i}>{_scoped(s.pattern)})" for i, s in enumerate(self.signatures)
            )
            try:
                self._union = re.compile(union, _FLAGS)
            except re.error as e:  # e.g. two rows defining the same group name
                raise ValueError(f"signatures do not combine: {e}") from e
        self._by_group = {f"_sig{i}": i for i in range(len(self.signatures))}

    def match(self, diag: str) -> Signature | None:
        """The first signature (in row order) whose pattern occurs in ``diag``, or None."""
        if self._union is None or not diag or (diag[0] == "2" and diag[3:4] in (" ", "-")):
            return None  # a 2xx reply ("250 2.0.0 OK") is never a block
        m = self._union.search(diag)
        if m is None:
            return None
        hit = self._by_group[m.lastgroup or ""]
        # The union found the leftmost match in the text; an earlier row may match further on.
        for i in range(hit):
            if self._compiled[i].search(diag) is not None:
                return self.signatures[i]
        return self.signatures[hit]

    def by_id(self, sig_id: str) -> Signature | None:
        for s in self.signatures:
            if s.id == sig_id:
                return s
        return None


class _Key:
    __slots__ = ("fired", "times")

    def __init__(self) -> None:
        self.times: list[float] = []  # sorted, at most `threshold` newest timestamps
        self.fired = False  # True since the threshold was reached, until a quiet window


class SignatureCounts:
    """Counts signature hits per (ip, provider, signature id) in a sliding window.

    :meth:`observe` returns True when a key's count within ``window`` seconds of ``now``
    reaches ``threshold``: once per episode. An episode ends when a whole window passes with
    no hit, so a steady trickle at about the threshold rate does not fire on every hit.
    Only the newest ``threshold`` timestamps of a key are kept (enough to decide), and at most
    ``max_keys`` keys: stale keys go first, then the oldest-created.
    """

    __slots__ = ("_keys", "max_keys", "threshold", "window")

    def __init__(self, threshold: int, window: float, *, max_keys: int = 10_000) -> None:
        if threshold < 1 or window <= 0 or max_keys < 1:
            raise ValueError("threshold and max_keys must be >= 1 and window > 0")
        self.threshold = threshold
        self.window = window
        self.max_keys = max_keys
        self._keys: dict[tuple[str, str, str], _Key] = {}

    def observe(self, ip: str, provider: str, sig_id: str, ts: float, now: float) -> bool:
        cutoff = now - self.window
        if ts < cutoff:
            return False  # already outside the window: replayed history
        key = (ip, provider, sig_id)
        k = self._keys.get(key)
        if k is None:
            if len(self._keys) >= self.max_keys:
                self._make_room(cutoff)
            k = self._keys[key] = _Key()
        times = k.times
        if k.fired and (not times or times[-1] < cutoff):
            k.fired = False  # the window went quiet: a new episode
        insort(times, ts)
        if len(times) > self.threshold:
            del times[0]
        if k.fired or len(times) - bisect_left(times, cutoff) < self.threshold:
            return False
        k.fired = True
        return True

    def count(self, ip: str, provider: str, sig_id: str, now: float) -> int:
        """Hits of the key within the window (capped at ``threshold``)."""
        k = self._keys.get((ip, provider, sig_id))
        if k is None:
            return 0
        return len(k.times) - bisect_left(k.times, now - self.window)

    def prune(self, now: float) -> int:
        """Drop keys with no hit inside the window; returns how many went."""
        cutoff = now - self.window
        stale = [key for key, k in self._keys.items() if not k.times or k.times[-1] < cutoff]
        for key in stale:
            del self._keys[key]
        return len(stale)

    def __len__(self) -> int:
        return len(self._keys)

    def _make_room(self, cutoff: float) -> None:
        stale = [key for key, k in self._keys.items() if not k.times or k.times[-1] < cutoff]
        for key in stale:
            del self._keys[key]
        excess = len(self._keys) - self.max_keys + 1
        if excess > 0:
            # Drop an eighth at once so a flood of new keys does not rescan on every insert.
            for key in list(self._keys)[: max(excess, self.max_keys // 8)]:
                del self._keys[key]
