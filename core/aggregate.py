"""In-memory aggregation of events into per-(ip, subuser, provider, minute) counters for one
batch, plus the batch's block-signature hits per (ip, provider, signature, minute).

The hot path of ingestion: a dict lookup for the recipient domain's provider (a per-batch
cache in front of :class:`ProviderTable`), one for the bucket, and a few integer adds per
event, no objects. A batch's aggregate is written with one executemany upsert, in the same
transaction as the file checkpoint (storage/checkpoints.py), so signature counts are exactly
as crash-safe as the buckets.

Provider: ``''`` when the event names no recipient domain, ``other`` for a domain the table
does not know (see storage/migrations/v007_providers.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from opsconsole.core.events import Event, Kind
from opsconsole.core.providers import ProviderTable
from opsconsole.core.signatures import SignatureSet

# Counter columns, in bucket order.
DELIVERED, BOUNCED, HARD, SOFT, DEFERRED, COMPLAINTS = range(6)
SAMPLES_PER_IP = 20  # bounce samples kept per IP per batch: enough to drill down, bounded

_DEFAULT_TABLE: ProviderTable | None = None
_DEFAULT_SIGNATURES: SignatureSet | None = None


def default_table() -> ProviderTable:
    """The built-in table, shared by aggregates that were given none."""
    global _DEFAULT_TABLE
    if _DEFAULT_TABLE is None:
        _DEFAULT_TABLE = ProviderTable()
    return _DEFAULT_TABLE


def default_signatures() -> SignatureSet:
    global _DEFAULT_SIGNATURES
    if _DEFAULT_SIGNATURES is None:
        _DEFAULT_SIGNATURES = SignatureSet()
    return _DEFAULT_SIGNATURES


BucketKey = tuple[str, str, str, int]  # (ip, subuser, provider, minute)
HitKey = tuple[str, str, str, int]  # (ip, provider, signature id, minute)


@dataclass
class EspPending:
    """ESP events that count only if their id is new: storage inserts the ids and folds
    just the new events into the batch, in the batch's own transaction (exactly once across
    webhook retries, re-ingested payload files, and the two together). ``engaged`` holds
    (event id, ts, "open"|"click", ip, subuser): engagement, never counted as sent."""

    source: str  # the ESP ("sendgrid", "mailgun", "ses"): ids are unique per ESP
    items: list[tuple[str, Event]] = field(default_factory=list)
    engaged: list[tuple[str, float, str, str | None, str | None]] = field(default_factory=list)


@dataclass
class BucketColumns:
    """A batch's buckets as the columnar parser made them: unique keys in the table's key
    order (:func:`table_order`), entry ``i`` of each column one bucket, the (ip, subuser)
    and provider strings by code. A bucket dict is built from it only when something needs
    one: pickled between the backlog's processes it costs a fraction of the dict, and the
    upsert's rows come straight out of one zip (on a 43k-bucket batch: ~20 ms instead of
    ~150 ms), already in the order the table's B-tree appends them fastest."""

    names: list[tuple[str, str]]  # (ip, subuser) by code
    providers: list[str]  # provider by code
    a: Sequence[int]  # the (ip, subuser) code of each bucket
    p: Sequence[int]  # the provider code of each bucket
    minute: Sequence[int]
    counts: list[Sequence[int]]  # six columns, in counter order
    last: dict[int, int]  # name code -> its newest minute

    def __len__(self) -> int:
        return len(self.minute)

    def _key_columns(self) -> tuple[Iterable[str], Iterable[str], Iterable[str], Sequence[int]]:
        ips = [n[0] for n in self.names]
        subs = [n[1] for n in self.names]
        return (
            map(ips.__getitem__, self.a),
            map(subs.__getitem__, self.a),
            map(self.providers.__getitem__, self.p),
            self.minute,
        )

    def keys(self) -> Iterator[BucketKey]:
        return zip(*self._key_columns(), strict=True)

    def items(self) -> Iterator[tuple[BucketKey, list[int]]]:
        return zip(self.keys(), map(list, zip(*self.counts, strict=True)), strict=True)

    def rows(self) -> list[tuple[str, str, str, int, int, int, int, int, int, int]]:
        return list(zip(*self._key_columns(), *self.counts, strict=True))

    def newest(self) -> dict[str, int]:
        """Each IP's newest minute."""
        out: dict[str, int] = {}
        for a, m in self.last.items():
            ip = self.names[a][0]
            if ip and m > out.get(ip, -1):
                out[ip] = m
        return out


def table_order(key: tuple[str, str, str, int]) -> tuple[int, str, str, str]:
    """The order of the bucket and signature-hit tables' keys, minute first (migrations
    v021, v022), for a Python key with its minute last."""
    return (key[3], key[0], key[1], key[2])


@dataclass
class BatchAggregate:
    """Counters of one batch. ``ip``/``subuser``/``provider`` are ``''`` where none.

    The buckets are a dict (:attr:`buckets`) or, as the columnar parser leaves them,
    :class:`BucketColumns` until the dict is asked for; :meth:`bucket_count`,
    :meth:`bucket_keys` and :meth:`rows` read either without building the dict."""

    providers: ProviderTable | None = None
    signatures: SignatureSet | None = None
    _buckets: dict[BucketKey, list[int]] = field(default_factory=dict)
    _columns: BucketColumns | None = None
    signature_hits: dict[HitKey, int] = field(default_factory=dict)
    samples: list[Event] = field(default_factory=list)
    events: int = 0
    last_event_at: float | None = None
    _samples_by_ip: dict[str, int] = field(default_factory=dict)
    _domains: dict[str, str] = field(default_factory=dict)
    # diagnostic -> signature id or None: the same reply text recurs within a batch, and
    # matching it against the signature set costs more than the rest of the event
    _sig_of: dict[str, str | None] = field(default_factory=dict)
    pending: EspPending | None = None  # ids to deduplicate before these count (ESP formats)
    ordered: bool = False  # ``buckets`` was filled in table_order (the columnar path): no sort

    @property
    def buckets(self) -> dict[BucketKey, list[int]]:
        cols = self._columns
        if cols is not None:  # only ever set on an empty dict
            self._buckets.update(cols.items())
            self._columns = None
        return self._buckets

    def set_columns(self, cols: BucketColumns) -> None:
        """The buckets of an aggregate that has none yet, as columns (in key order)."""
        assert not self.bucket_count()
        self._columns, self.ordered = cols, True

    def columnar(self) -> bool:
        """The buckets are still :class:`BucketColumns` (about their pickle's size)."""
        return self._columns is not None

    def bucket_count(self) -> int:
        return len(self._columns) if self._columns is not None else len(self._buckets)

    def bucket_keys(self) -> Iterable[BucketKey]:
        return self._columns.keys() if self._columns is not None else self._buckets

    def bucket_items(self) -> Iterable[tuple[BucketKey, list[int]]]:
        return self._columns.items() if self._columns is not None else self._buckets.items()

    def ip_minutes(self) -> list[tuple[str, float]]:
        """Each attributed IP of the batch with its newest event minute."""
        if self._columns is not None:
            return [(ip, float(m)) for ip, m in self._columns.newest().items()]
        seen: dict[str, float] = {}
        for ip, *_, minute in self._buckets:
            if ip and minute > seen.get(ip, -1.0):
                seen[ip] = float(minute)
        return list(seen.items())

    def add_all(self, events: Iterable[Event]) -> None:
        self.ordered = False
        buckets = self.buckets
        domains = self._domains
        table = self.providers or default_table()
        sigs = self.signatures if self.signatures is not None else default_signatures()
        hits = self.signature_hits
        sig_of = self._sig_of
        n = 0
        last = self.last_event_at
        bounced = Kind.BOUNCED
        deferred = Kind.DEFERRED
        for ev in events:
            n += 1
            ts, kind, ip, subuser, hard, dom = ev[0], ev[1], ev[2] or "", ev[3] or "", ev[4], ev[5]
            prov = domains.get(dom)
            if prov is None:
                prov = domains[dom] = table.provider_of(dom) if dom else ""
            minute = int(ts) // 60 * 60
            key = (ip, subuser, prov, minute)
            row = buckets.get(key)
            if row is None:
                row = buckets[key] = [0, 0, 0, 0, 0, 0]
            if kind == bounced:
                row[BOUNCED] += 1
                row[HARD if hard else SOFT] += 1
                self._sample(ev, ip)
                diag = ev[7]
            else:
                row[_COLUMN[kind]] += 1
                diag = ev[7] if kind == deferred else ""
            if diag:  # a bounce's or deferral's diagnostic: block signatures
                sid = sig_of.get(diag, _UNSEEN)
                if sid is _UNSEEN:
                    sid = self._match(sigs, diag)
                if sid is not None:
                    hk = (ip, prov, sid, minute)
                    hits[hk] = hits.get(hk, 0) + 1
            if last is None or ts > last:
                last = ts
        self.events += n
        self.last_event_at = last

    def _match(self, sigs: SignatureSet, diag: str) -> str | None:
        sig = sigs.match(diag)
        sid = sig.id if sig is not None else None
        if len(self._sig_of) >= _SIG_CACHE_MAX:
            self._sig_of.clear()
        self._sig_of[diag] = sid
        return sid

    def _sample(self, ev: Event, ip: str) -> None:
        k = self._samples_by_ip.get(ip, 0)
        if k < SAMPLES_PER_IP:
            self._samples_by_ip[ip] = k + 1
            self.samples.append(ev)

    def absorb(self, later: BatchAggregate) -> None:
        """Add the counters of the batch that follows this one (one transaction for both,
        as if their lines had been one batch; bounce samples stay those of each batch)."""
        if not self.bucket_count() and later._columns is not None:
            self._columns, self.ordered = later._columns, later.ordered
        else:
            self.ordered = self.ordered and not self.bucket_count() and later.ordered
            add_buckets(self.buckets, later.bucket_items())
        hits = self.signature_hits
        for hk, n in later.signature_hits.items():
            hits[hk] = hits.get(hk, 0) + n
        self.samples.extend(later.samples)
        self.events += later.events
        last = later.last_event_at
        if last is not None and (self.last_event_at is None or last > self.last_event_at):
            self.last_event_at = last

    # Rows in the table's key order (table_order): concurrent writers (hosts of a fleet, two
    # readers of one file) then lock the same rows in the same order, so PostgreSQL never
    # sees a deadlock. ``ordered=False``: in any order, for a store with one writer at a
    # time (SQLite locks the whole database), where the sort is pure cost (~10 ms a Postfix
    # batch). The columnar parser's rows are in that order already.
    def rows(
        self, ordered: bool = True
    ) -> list[tuple[str, str, str, int, int, int, int, int, int, int]]:
        if self._columns is not None:
            return self._columns.rows()
        items = self._buckets.items()
        if ordered and not self.ordered:
            items = sorted(items, key=item_order)  # type: ignore[assignment]
        return [(*k, *c) for k, c in items]  # type: ignore[misc]

    def hit_rows(self, ordered: bool = True) -> list[tuple[str, str, str, int, int]]:
        items = self.signature_hits.items()
        if ordered:
            items = sorted(items, key=item_order)  # type: ignore[assignment]
        return [(*k, c) for k, c in items]


def item_order(item: tuple[tuple[str, str, str, int], object]) -> tuple[int, str, str, str]:
    """:func:`table_order` of a (key, value) pair."""
    return table_order(item[0])


def add_buckets(
    buckets: dict[BucketKey, list[int]], items: Iterable[tuple[BucketKey, list[int]]]
) -> None:
    """Add (key, counters) pairs into ``buckets`` (the lists of new keys are taken as they
    are)."""
    for key, counts in items:
        row = buckets.get(key)
        if row is None:
            buckets[key] = counts
        else:
            for i, n in enumerate(counts):
                row[i] += n


_SIG_CACHE_MAX = 4096
_UNSEEN = ""  # not a signature id: a diagnostic not matched yet
_COLUMN = {Kind.DELIVERED: DELIVERED, Kind.DEFERRED: DEFERRED, Kind.COMPLAINED: COMPLAINTS}
