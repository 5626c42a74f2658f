"""Which mailbox provider a recipient domain, an MX host or a KumoMTA site belongs to.

Blocks and throttles happen per (sending IP, mailbox provider): Microsoft can block an IP that
Gmail still accepts, and one provider serves many domains (hotmail.co.uk, live.fr and
outlook.com are all Microsoft). The policy therefore judges each (ip, provider), and this
module is the one place that knows the providers.

Patterns
--------
``gmail.com``      that domain exactly.
``hotmail.*``      the label followed by any public suffix: hotmail.com, hotmail.co.uk,
                   hotmail.com.br; not hotmail.evil.example (see :func:`is_public_suffix`).
``*.example.com``  any subdomain of example.com (not example.com itself).

Operator entries (``[providers]`` in config) are a layer above the built-in table: every
operator pattern is tried before any built-in one, so an operator entry always wins, including
mapping a domain to ``other`` to take it out of a provider.

:meth:`ProviderTable.provider_of` runs per event on the ingest hot path; a hit is one dict
lookup on the raw domain, normalisation happens only on a miss.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from opsconsole.core.provider_data import BUILTIN_DOMAINS, BUILTIN_MX, PROVIDERS_VERSION
from opsconsole.core.stats import Thresholds

__all__ = [
    "OTHER",
    "PROVIDERS_VERSION",
    "ProviderPolicy",
    "ProviderSettings",
    "ProviderTable",
    "is_public_suffix",
]

OTHER = "other"

# Second-level labels under which ccTLDs register names (co.uk, com.br, ne.jp, gob.mx ...).
# A word list reads better than twenty quoted strings: hence the noqa.
_SLDS = frozenset(
    "co com net org ne or ac gob gov edu ltd plc gen nom web biz info in ind firm".split()  # noqa: SIM905
)
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_TLD_RE = re.compile(r"[a-z]{2,24}\Z|xn--[a-z0-9-]{1,59}\Z")
_SITE_GROUP_RE = re.compile(r"\([^)]*\)\??")


def is_public_suffix(suffix: str) -> bool:
    """Whether ``suffix`` looks like a public suffix: a TLD (``fr``) or SLD.ccTLD (``co.uk``).

    An approximation of the Public Suffix List that needs no data file and is right for every
    place a mailbox provider registers its name; it rejects ``evil.example`` so ``yahoo.*``
    cannot be claimed by a look-alike subdomain of someone else's domain.
    """
    parts = suffix.split(".")
    if len(parts) == 1:
        return _TLD_RE.match(parts[0]) is not None
    if len(parts) == 2:
        sld, cc = parts
        return sld in _SLDS and len(cc) == 2 and cc.isalpha()
    return False


def _norm(name: str) -> str:
    return name.strip().lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class ProviderPolicy:
    """Per-provider judging overrides; ``None`` keeps the global value.

    Providers differ in tolerance (Microsoft blocks earlier than Gmail), so an operator can
    tighten or loosen one provider without touching the IP-wide thresholds.
    """

    min_sample: int | None = None
    warning: float | None = None
    critical: float | None = None
    block: float | None = None

    def apply(self, base: Thresholds) -> Thresholds:
        """``base`` with this policy's non-None values put in."""
        changes: dict[str, float | int] = {}
        if self.min_sample is not None:
            changes["min_sample"] = self.min_sample
        if self.warning is not None:
            changes["warning"] = self.warning
        if self.critical is not None:
            changes["critical"] = self.critical
        if self.block is not None:
            changes["block"] = self.block
        return replace(base, **changes) if changes else base  # type: ignore[arg-type]  # keys are Thresholds fields


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """The ``[providers]`` values this module needs; the edge builds it from settings."""

    extra_domains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra_mx: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    policies: Mapping[str, ProviderPolicy] = field(default_factory=dict)
    mx_rollup: bool = False


class _Layer:
    """One table's patterns split by form, so a miss costs a few dict lookups."""

    __slots__ = ("exact", "names", "suffixes")

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        self.exact: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.suffixes: dict[str, str] = {}
        for provider, patterns in table.items():
            prov = _norm(provider)
            if not prov:
                raise ValueError("empty provider name")
            for raw in patterns:
                pat = _norm(raw)
                if pat.endswith(".*") and _valid_domain(pat[:-2]) and "." not in pat[:-2]:
                    self.names.setdefault(pat[:-2], prov)
                elif pat.startswith("*.") and _valid_domain(pat[2:]):
                    self.suffixes.setdefault(pat[2:], prov)
                elif _valid_domain(pat):
                    self.exact.setdefault(pat, prov)
                else:
                    raise ValueError(f"provider {provider!r}: bad domain pattern {raw!r}")

    def lookup(self, domain: str) -> str | None:
        prov = self.exact.get(domain)
        if prov is not None:
            return prov
        label, _, rest = domain.partition(".")
        prov = self.names.get(label)
        if prov is not None and is_public_suffix(rest):
            return prov
        if self.suffixes:
            while rest:
                prov = self.suffixes.get(rest)
                if prov is not None:
                    return prov
                _, _, rest = rest.partition(".")
        return None


def _valid_domain(name: str) -> bool:
    return bool(name) and all(_LABEL_RE.match(p) for p in name.split("."))


class ProviderTable:
    """The built-in provider table under the operator's extensions, with bounded caches.

    Caches are two generations of at most ``cache_size`` entries each: when the young one
    fills, it becomes the old one and the previous old one is dropped. A hot domain found in
    the old generation is promoted, so hot entries survive a turnover while memory stays
    bounded by ``2 * cache_size`` whatever a hostile log feeds in.
    """

    __slots__ = (
        "_cache", "_layers", "_mx", "_old", "_site_cache", "_site_old", "cache_size", "rollup",
    )  # fmt: skip

    def __init__(
        self,
        extra_domains: Mapping[str, Iterable[str]] | None = None,
        extra_mx: Mapping[str, Iterable[str]] | None = None,
        *,
        cache_size: int = 4096,
    ) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        self.cache_size = cache_size
        self._layers = (_Layer(extra_domains or {}), _Layer(BUILTIN_DOMAINS))
        self._mx = (_Layer(_as_suffixes(extra_mx or {})), _Layer(_as_suffixes(BUILTIN_MX)))
        self._cache: dict[str, str] = {}
        self._old: dict[str, str] = {}
        self._site_cache: dict[str, str | None] = {}
        self._site_old: dict[str, str | None] = {}
        # MX rollup (core/providers_mx.py): asked only for a domain the table calls ``other``,
        # answers from its cache and queues a miss; never waits. See forget().
        self.rollup: Callable[[str], str | None] | None = None

    def forget(self) -> None:
        """Drop the cached answers, after MX rollup learned new domains (rare: once per
        refresh that mapped something), so later events of those domains count at their
        provider."""
        self._cache = {}
        self._old = {}

    @classmethod
    def from_settings(cls, settings: ProviderSettings, *, cache_size: int = 4096) -> ProviderTable:
        return cls(settings.extra_domains, settings.extra_mx, cache_size=cache_size)

    def provider_of(self, domain: str) -> str:
        """The provider of a recipient domain (any case, trailing dot allowed), or ``other``."""
        prov = self._cache.get(domain)
        if prov is not None:
            return prov
        return self._miss(domain)

    def _miss(self, domain: str) -> str:
        prov = self._old.get(domain)
        if prov is None:
            prov = self._lookup(_norm(domain))
        if len(self._cache) >= self.cache_size:
            self._old = self._cache
            self._cache = {}
        self._cache[domain] = prov
        return prov

    def _lookup(self, domain: str) -> str:
        if domain:
            for layer in self._layers:
                prov = layer.lookup(domain)
                if prov is not None:
                    return prov
            if self.rollup is not None:
                return self.rollup(domain) or OTHER
        return OTHER

    def provider_of_mx(self, mx_host: str) -> str | None:
        """The provider that runs this MX host (``mx01.mail.icloud.com`` -> ``apple``), or None.

        For MX rollup: a company domain hosted on Google Workspace or Microsoft 365 is judged
        with that provider. The DNS lookup is someone else's job; this only maps names.
        """
        host = _norm(mx_host)
        for layer in self._mx:
            prov = layer.lookup(host)
            if prov is not None:
                return prov
        return None

    def provider_of_site(self, site: str) -> str | None:
        """The provider behind a KumoMTA site name, e.g.
        ``(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com:25`` -> ``google``.

        Kumo names a site after its MX hosts: a factored alternation prefix, a shared suffix and
        the port. Every host the name can spell is tried; the first mapped one wins. Cached like
        :meth:`provider_of`, since it runs per KumoMTA record.
        """
        cached = self._site_cache.get(site, _MISS)
        if cached is not _MISS:
            return cached  # type: ignore[return-value]  # not the sentinel: checked above
        prov = self._site_old.get(site, _MISS)
        if prov is _MISS:
            prov = self._site_lookup(site)
        if len(self._site_cache) >= self.cache_size:
            self._site_old = self._site_cache
            self._site_cache = {}
        self._site_cache[site] = prov  # type: ignore[assignment]  # not the sentinel
        return prov  # type: ignore[return-value]  # not the sentinel

    def _site_lookup(self, site: str) -> str | None:
        for host in _site_hosts(site):
            prov = self.provider_of_mx(host)
            if prov is not None:
                return prov
        return None

    def domains_of(self, provider: str) -> list[str]:
        """Concrete domains of ``provider``, e.g. to render PowerMTA ``disable source IP DOMAIN``.

        Exact entries of both layers that still resolve to ``provider`` (an operator may have
        moved one elsewhere), then ``label.com`` for a ``label.*`` pattern that has no concrete
        entry. Sorted, no duplicates.
        """
        prov = _norm(provider)
        out: set[str] = set()
        for layer in self._layers:
            for dom, p in layer.exact.items():
                if p == prov and self._lookup(dom) == prov:
                    out.add(dom)
        for layer in self._layers:
            for label, p in layer.names.items():
                if p == prov and not any(d.partition(".")[0] == label for d in out):
                    guess = f"{label}.com"
                    if self._lookup(guess) == prov:
                        out.add(guess)
        return sorted(out)

    def providers(self) -> list[str]:
        """Every provider name known to the table, sorted (``other`` not included)."""
        names: set[str] = set()
        for layer in self._layers:
            names.update(layer.exact.values(), layer.names.values(), layer.suffixes.values())
        names.discard(OTHER)
        return sorted(names)


class _Missing:
    __slots__ = ()


_MISS = _Missing()


def _as_suffixes(table: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """MX entries are domain suffixes: ``google.com`` covers ``aspmx.l.google.com``."""
    out: dict[str, tuple[str, ...]] = {}
    for prov, suffixes in table.items():
        pats: list[str] = []
        for s in suffixes:
            n = _norm(s).removeprefix("*.")
            pats += [n, f"*.{n}"]
        out[prov] = tuple(pats)
    return out


def _site_hosts(site: str) -> list[str]:
    """Host names a site name can spell: the factored tail, then each whole piece."""
    name = _norm(site)
    if name.startswith("[") or not name:
        return []  # an IP literal names no provider
    host, sep, port = name.rpartition(":")
    if sep and port.isdigit():
        name = host
    hosts: list[str] = []
    tail = _SITE_GROUP_RE.sub("", name).strip(".,|")
    if tail:
        hosts += [h.strip(".") for h in tail.split(",") if h.strip(".")]
    for piece in re.split(r"[()|,?]+", name):
        piece = piece.strip(".")
        if "." in piece and piece not in hosts:
            hosts.append(piece)
    return hosts
