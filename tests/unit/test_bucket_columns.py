"""BucketColumns, the columnar parser's buckets: every way an aggregate is read (the dict,
the upsert's rows, the keys, the count, absorbing, pickling) gives what the same buckets
held as a dict give."""

from __future__ import annotations

import pickle
from array import array

from opsconsole.core.aggregate import BatchAggregate, BucketColumns, table_order

NAMES = [("", "vmta-9"), ("192.0.2.1", ""), ("192.0.2.1", "a")]
PROVIDERS = ["", "gmail", "other"]
# (name code, provider code, minute, six counters), in the table's key order (minute first)
ENTRIES = [
    (1, 1, 0, (3, 0, 0, 0, 1, 0)),
    (0, 1, 60, (1, 0, 0, 0, 0, 0)),
    (1, 0, 60, (0, 2, 1, 1, 0, 0)),
    (2, 2, 60, (5, 1, 0, 1, 2, 0)),
    (1, 1, 120, (0, 0, 0, 0, 0, 4)),
]


def columns(kind: type = list) -> BucketColumns:
    def col(values: list[int]) -> object:
        return array("q", values) if kind is array else list(values)

    return BucketColumns(
        NAMES,
        PROVIDERS,
        col([e[0] for e in ENTRIES]),  # type: ignore[arg-type]
        col([e[1] for e in ENTRIES]),  # type: ignore[arg-type]
        col([e[2] for e in ENTRIES]),  # type: ignore[arg-type]
        [col([e[3][i] for e in ENTRIES]) for i in range(6)],  # type: ignore[misc]
        {a: max(e[2] for e in ENTRIES if e[0] == a) for a in {e[0] for e in ENTRIES}},
    )


def as_dict() -> dict[tuple[str, str, str, int], list[int]]:
    return {(*NAMES[a], PROVIDERS[p], m): list(c) for a, p, m, c in ENTRIES}


def test_columns_read_as_the_dict_they_stand_for() -> None:
    for kind in (list, array):
        agg = BatchAggregate()
        agg.set_columns(columns(kind))
        assert agg.bucket_count() == len(ENTRIES)
        assert list(agg.bucket_keys()) == list(as_dict())
        assert agg.rows() == [(*k, *c) for k, c in as_dict().items()]
        assert agg.ordered
        plain = BatchAggregate()
        plain.buckets.update(as_dict())
        assert sorted(agg.ip_minutes()) == sorted(plain.ip_minutes()) == [("192.0.2.1", 120.0)]
        assert agg.buckets == as_dict()  # built on demand, once
        assert agg._columns is None and agg.bucket_count() == len(ENTRIES)


def test_columns_survive_a_pickle_and_absorb_either_way() -> None:
    agg = BatchAggregate()
    agg.set_columns(columns(array))
    got = pickle.loads(pickle.dumps(agg, protocol=pickle.HIGHEST_PROTOCOL))
    assert got.rows() == agg.rows()
    # columns into an empty aggregate: taken as they are
    empty = BatchAggregate()
    empty.absorb(got)
    assert empty._columns is not None and empty.buckets == as_dict()
    # columns into a dict: added key by key; a dict into columns likewise
    base = BatchAggregate()
    base.buckets[("192.0.2.1", "", "gmail", 0)] = [1, 1, 1, 0, 0, 0]
    later = BatchAggregate()
    later.set_columns(columns())
    base.absorb(later)
    want = as_dict()
    want[("192.0.2.1", "", "gmail", 0)] = [4, 1, 1, 0, 1, 0]
    assert base.buckets == want and not base.ordered
    cols = BatchAggregate()
    cols.set_columns(columns())
    extra = BatchAggregate()
    extra.buckets[("192.0.2.1", "", "gmail", 0)] = [1, 1, 1, 0, 0, 0]
    cols.absorb(extra)
    assert cols.buckets == want


def test_a_dict_writes_in_the_tables_key_order_as_columns_do() -> None:
    """Every writer locks rows in one order (PostgreSQL: no deadlock between a host reading
    columns and one reading lines): the dict's rows, sorted, are the columns' rows."""
    plain = BatchAggregate()
    for k, c in reversed(list(as_dict().items())):
        plain.buckets[k] = c
        plain.signature_hits[(k[0], k[2], "sig", k[3])] = 1
    cols = BatchAggregate()
    cols.set_columns(columns(array))
    assert plain.rows(ordered=True) == cols.rows() == [(*k, *c) for k, c in as_dict().items()]
    assert [table_order(r[:4]) for r in cols.rows()] == sorted(table_order(k) for k in as_dict())
    hits = plain.hit_rows(ordered=True)
    assert [h[:4] for h in hits] == sorted((h[:4] for h in hits), key=table_order)
    assert plain.rows(ordered=False)[0] == cols.rows()[-1]  # unordered: as filled
