"""PowerMTA backlog at compiled speed: one batch of raw bytes, parsed and grouped by pyarrow,
with the Python parser's decisions taken once per DISTINCT value.

One parser contract: :func:`add_batch` fills a :class:`BatchAggregate` and the parser's
:class:`ParseStats` exactly as ``agg.add_all(parser.feed(lines))`` does for the same lines
(every bucket, signature hit, bounce sample, count, malformed sample and unmapped name).
It only takes a batch it can judge exactly; anything else goes, whole, through the Python
parser (``feed``), so hostile input is always judged by one piece of code:

* the batch must be valid UTF-8 without ``\\r`` and every line plain RFC 4180 CSV: each field
  unquoted without ``"`` or ``,``, or wholly quoted without an inner ``"`` (where Python's
  ``split``/``csv.reader`` and Arrow's tokenizer provably agree), with the header's field
  count;
* a header line only as the batch's first line (a pipe restart in mid-batch: slow path);
* no event row may be malformed (bad time, bad ``dlvSourceIp``): the slow path then keeps
  the samples in line order;
* no line may be near the overlong limit (the line parser sees an OVERLONG marker there).

Arrow tokenizes, dictionary-encodes each column we use, and counts rows per (attribution,
provider, minute, kind, hard); Python classifies the distinct type, time, address/vmta,
status/category and domain values with the very caches and helpers of
:class:`~opsconsole.core.sources.pmta.PmtaParser`. Pure computation: no I/O, no clock but
the parser's ``now``. pyarrow is imported lazily (start-up time).
"""

from __future__ import annotations

import re
import struct
from array import array
from typing import Any

from opsconsole.core.aggregate import (
    BatchAggregate,
    BucketColumns,
    add_buckets,
    default_signatures,
    default_table,
)
from opsconsole.core.classify import enhanced_code, is_hard
from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.base import MAX_AHEAD, MAX_TEXT, MAX_UNMAPPED, MIN_TS
from opsconsole.core.sources.pmta import _TYPES, PmtaParser, _Columns, _is_header
from opsconsole.core.sources.tail import MAX_LINE_BYTES

# A line every CSV reader splits the same way (no CR: Arrow would end the row there).
_FIELD = r'(?:[^",\r\n]*|"[^"\r\n]*")'
CLEAN_BATCH = rf"\A(?:{_FIELD}(?:,{_FIELD})*\n)*\z"  # every line, in one RE2 pass
_SAMPLES_PER_IP = 20
_BOUNDS = struct.Struct("<qq")  # a large_binary array's offsets: [0, length]
_new = tuple.__new__


def available() -> bool:
    """pyarrow is installed; its modules this path uses are then imported, once: a backlog
    worker forked after this has them (and so has the reader), instead of both processes
    importing compute and acero after the fork (~55 ms each)."""
    try:
        import pyarrow.acero  # Table.group_by
        import pyarrow.compute
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def _kind_code(rtype: str) -> int:
    """Kind value of a record type, -1 for a well-formed non-outcome or unknown type."""
    kind = _TYPES.get(rtype, -1)
    if kind == -1:
        kind = _TYPES.get(rtype.strip().lower())
    return -1 if kind is None or kind == -1 else int(kind)


# Distinct values per event row above which the columnar path costs more than it saves
# (random seconds, a bucket per row): it then leaves the rest of that file to the line
# parser. Results are the same either way; the tests turn this off to compare every batch.
ADAPTIVE = True
MAX_DISTINCT_SHARE = 0.25


def add_batch(
    parser: PmtaParser, agg: BatchAggregate, data: bytes, max_line: int = MAX_LINE_BYTES
) -> bool:
    """Parse ``data`` (complete lines) into ``agg`` and ``parser.stats`` as the Python parser
    would (``decode_lines(data, max_line)`` then ``feed``); False (and nothing changed) when
    the batch is not one this path can judge."""
    if ADAPTIVE and getattr(parser, "_backlog_off", False):
        return False
    if _maybe_overlong(data, max_line):
        return False
    try:
        plan = _plan(parser, agg, data)
    except Exception:  # anything Arrow refuses (field count, UTF-8): the slow path judges
        return False
    if plan is None:
        return False
    plan()
    return True


def _maybe_overlong(data: bytes, max_line: int) -> bool:
    """False when no line of ``data`` can be longer than ``max_line`` bytes: every aligned
    block of ``step`` bytes holds a newline, so no run without one is longer than
    2 * step - 2 <= max_line. A find per block, each stopping at the block's first newline."""
    step = max_line // 2 + 1
    find = data.find
    return any(find(b"\n", at, at + step) < 0 for at in range(0, len(data), step))


def _plan(parser: PmtaParser, agg: BatchAggregate, data: bytes) -> Any:
    """Everything computed, nothing applied: a closure that applies it, or None."""
    if not data:  # (a CR anywhere fails CLEAN_BATCH: no scan for it first)
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    whole = pa.Array.from_buffers(  # the batch as one binary value, its bytes not copied
        pa.large_binary(), 1, [None, pa.py_buffer(_BOUNDS.pack(0, len(data))), pa.py_buffer(data)]
    )
    if not pc.match_substring_regex(whole, CLEAN_BATCH)[0].as_py():
        return None
    first: str | None = None
    body = data
    cut = data.index(b"\n") + 1
    head = data[: min(cut - 1, 200)].split(b",", 1)[0].strip(b' \t"').lower()
    if head == b"type" or not head.isascii():
        first, body = data[: cut - 1].decode("utf-8"), data[cut:]
    # A first-line header, judged as the Python parser judges it.
    cols = parser._cols
    if first is not None:
        row = parser._split(first)
        if row is None or not (row[0].strip().lower() == "type" and _is_header(row)):
            return None
        cols = _Columns(row)
    if cols is None or cols.time < 0 or cols.n < 2:
        return None
    table = None
    n_rows = 0
    if body:
        table = pcsv.read_csv(
            pa.py_buffer(body),
            read_options=pcsv.ReadOptions(
                column_names=[f"c{i}" for i in range(cols.n)], block_size=1 << 20, use_threads=False
            ),
            parse_options=pcsv.ParseOptions(
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={f"c{i}": pa.string() for i in range(cols.n)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                include_columns=[
                    f"c{i}"
                    for i in sorted(
                        {cols.time, 0}
                        | {
                            c
                            for c in (
                                cols.rcpt,
                                cols.status,
                                cols.diag,
                                cols.bounce_cat,
                                cols.dlv_ip,
                                cols.rep_ip,
                                cols.vmta,
                                cols.vmta_pool,
                            )
                            if c >= 0
                        }
                    )
                ],
            ),
        )
        # Every line is clean CSV with >= 2 fields (an empty line would have failed the
        # field count): one row per line.
        n_rows = table.num_rows
    return _aggregate(parser, agg, first, table, cols, n_rows, pa, pc)


def _aggregate(parser, agg, first, table, cols, n_rows, pa, pc):  # type: ignore[no-untyped-def]
    """The distinct-value half; returns the applying closure or None."""
    max_ts = parser.now() + MAX_AHEAD  # once per batch, as feed() reads it
    header_cols = cols if first is not None else None
    n_lines = n_rows + (1 if first is not None else 0)

    def apply_counts(ignored: int, events: int, unattributed: int) -> None:
        st = parser.stats
        st.lines += n_lines
        st.ignored += ignored + (1 if first is not None else 0)
        st.events += events
        st.unattributed += unattributed
        parser._max_ts = max_ts
        if header_cols is not None:
            parser._cols = header_cols

    if table is None or n_rows == 0:
        return lambda: apply_counts(0, 0, 0)

    # Record types -> kind codes; rows that are events.
    tcol = _dict(pc, table.column("c0"))
    rtypes = tcol.dictionary.to_pylist()
    if any(t.strip().lower() == "type" for t in rtypes):
        return None  # a header (or a "type" record) in mid-batch: the slow path decides
    kcodes = pa.array([_kind_code(t) for t in rtypes], pa.int8())
    kind = pc.take(kcodes, tcol.indices)
    is_event = pc.greater_equal(kind, _lit(pa, 0))
    n_events = pc.sum(is_event).as_py() or 0
    ignored = n_rows - n_events
    if n_events == 0:
        return lambda: apply_counts(ignored, 0, 0)
    all_events = n_events == n_rows
    kind = kind.cast(pa.int64())
    if not all_events:
        kind = pc.filter(kind, is_event)

    def event_rows(col: Any) -> Any:  # a column's values of the event rows, in line order
        return col if all_events else pc.filter(col, is_event)

    def only_events(indices: Any) -> Any:
        return event_rows(indices.cast(pa.int64()))

    def column(i: int) -> Any:  # a string column, all rows
        return table.column(f"c{i}")

    def enc(i: int) -> tuple[list[str], Any]:
        if i < 0:
            return [""], pa.nulls(n_events, pa.int64()).fill_null(0)
        d = _dict(pc, column(i))
        return d.dictionary.to_pylist(), only_events(d.indices)

    # Time: the standard layout (``2019-02-08 21:54:05+0000``, offset optional) in Arrow,
    # one decision per distinct minute; any other layout one decision per distinct value.
    times = _times_by_minute(parser, pa, pc, event_rows(column(cols.time)), max_ts)
    if times is False:
        return None  # a malformed event row: the slow path keeps its sample in order
    if times is not None:
        ts_row, minute = times
    else:
        tvals, tidx = enc(cols.time)
        if ADAPTIVE and n_events >= 1000 and len(tvals) > MAX_DISTINCT_SHARE * n_events:
            parser._backlog_off = True
            return None
        ts_of: list[float] = [0.0] * len(tvals)
        used = pc.unique(tidx).to_pylist()
        for i in used:  # the times of event rows (an ignored record's time is not judged)
            ts = parser._time(tvals[i])
            if ts is None or not MIN_TS <= ts <= max_ts:
                return None  # a malformed event row: the slow path keeps its sample in order
            ts_of[i] = ts
        minute = pc.take(pa.array([int(t) // 60 * 60 for t in ts_of], pa.int64()), tidx)
        ts_row = pc.take(pa.array(ts_of, pa.float64()), tidx)
    last = pc.max(ts_row).as_py()

    # Attribution: one decision per distinct (complaint?, rep, dlv, vmta, pool).
    rep_v, rep_i = enc(cols.rep_ip)
    dlv_v, dlv_i = enc(cols.dlv_ip)
    vm_v, vm_i = enc(cols.vmta)
    pool_v, pool_i = enc(cols.vmta_pool)
    sizes = (2, len(rep_v), len(dlv_v), len(vm_v), len(pool_v))
    if _product(sizes) >= 1 << 62:
        return None
    comp = pc.equal(kind, _lit(pa, int(Kind.COMPLAINED))).cast(pa.int64())
    key = comp
    for size, idx in zip(sizes[1:], (rep_i, dlv_i, vm_i, pool_i), strict=True):
        key = pc.add(pc.multiply(key, _lit(pa, size)), idx)
    combo = _dict(pc, key)
    attrs: list[tuple[str, str]] = []  # combo -> (ip, vmta)
    ips, names, ip_map = parser._ips, parser._names, parser.ip_map
    for k in combo.dictionary.to_pylist():
        k, p = divmod(k, sizes[4])
        k, v = divmod(k, sizes[3])
        k, d = divmod(k, sizes[2])
        c, r = divmod(k, sizes[1])
        ip: str | None = ""
        if c and cols.rep_ip >= 0:
            rep = rep_v[r]
            if rep:
                ip = ips.get(rep)
                if ip is None:
                    ip = ips.check(rep)
        if not ip and cols.dlv_ip >= 0:
            raw = dlv_v[d]
            if raw:
                ip = ips.get(raw)
                if ip is None:
                    ip = ips.check(raw)
                if not ip:
                    return None  # malformed event row
        vmta = vm_v[v] if cols.vmta >= 0 else ""
        if vmta:
            vmta = names.get(vmta) or names.check(vmta)
        if not ip:
            ip = ip_map.get(vmta, "") if vmta else ""
            if not ip and cols.vmta_pool >= 0:
                pool = pool_v[p].strip()
                if pool:
                    ip = ip_map.get(pool, "")
        attrs.append((ip or "", vmta or ""))

    # Hardness of bounces: one decision per distinct (dsnStatus, bounceCat).
    st_v, st_i = enc(cols.status)
    cat_v, cat_i = enc(cols.bounce_cat)
    status_of = [_status(parser, s) if cols.status >= 0 else "" for s in st_v]
    cat_of = [(names.get(c) or names.check(c)) if c and cols.bounce_cat >= 0 else "" for c in cat_v]
    sc_key = pc.add(pc.multiply(st_i, _lit(pa, len(cat_v))), cat_i)
    bounced = pc.equal(kind, _lit(pa, int(Kind.BOUNCED)))
    sc = _dict(pc, pc.if_else(bounced, sc_key, _lit(pa, -1)))
    hard_of = []
    for k in sc.dictionary.to_pylist():
        if k < 0:
            hard_of.append(0)
        else:
            s_, c_ = divmod(k, len(cat_v))
            hard_of.append(1 if is_hard(status_of[s_], cat_of[c_]) else 0)
    hard = pc.take(pa.array(hard_of, pa.int64()), sc.indices)

    # Provider: one decision per distinct recipient domain.
    if cols.rcpt >= 0:
        dd = _dict(pc, _after_last(pa, pc, column(cols.rcpt), "@"))
        dom_of = [d.strip().strip("<>")[:255].lower() for d in dd.dictionary.to_pylist()]
        dom_i = only_events(dd.indices)
    else:
        dom_of, dom_i = [""], pa.nulls(n_events, pa.int64()).fill_null(0)
    table_p = agg.providers or default_table()
    domains = agg._domains
    prov_of = []
    for dom in dom_of:
        prov = domains.get(dom)
        if prov is None:
            prov = domains[dom] = table_p.provider_of(dom) if dom else ""
        prov_of.append(prov)

    # Bucket keys in the table's key order (minute, ip, vmta, provider): the (ip, vmta) and
    # the provider of each code ranked (equal ones equal), then Arrow groups and sorts by
    # minute and rank. The upsert writes them in that order: no sort, and the B-tree appends.
    cidx = combo.indices.cast(pa.int64())
    keys_a = sorted(set(attrs))
    rank_a = {a: i for i, a in enumerate(keys_a)}
    keys_p = sorted(set(prov_of))
    rank_p = {p: i for i, p in enumerate(keys_p)}
    aidx = pc.take(pa.array([rank_a[a] for a in attrs], pa.int64()), cidx)
    pidx = pc.take(pa.array([rank_p[p] for p in prov_of], pa.int64()), dom_i)
    hard_b = pc.multiply(hard, pc.equal(kind, _lit(pa, 1)).cast(pa.int64()))
    ind = {  # one counter column per bucket column, summed per (ip, vmta, provider, minute)
        "n0": pc.equal(kind, _lit(pa, 0)).cast(pa.int64()),
        "n1": pc.equal(kind, _lit(pa, 1)).cast(pa.int64()),
        "n2": pc.equal(kind, _lit(pa, 2)).cast(pa.int64()),
        "n3": pc.equal(kind, _lit(pa, 3)).cast(pa.int64()),
        "nh": hard_b,
    }
    grouped = (
        pa.table({"a": aidx, "p": pidx, "m": minute, **ind})
        .group_by(["a", "p", "m"], use_threads=False)
        .aggregate([(k, "sum") for k in ind])
        .sort_by([("m", "ascending"), ("a", "ascending"), ("p", "ascending")])
    )
    ga, gp, gm = grouped.column("a"), grouped.column("p"), grouped.column("m")
    newest = pa.table({"a": ga, "m": gm}).group_by("a", use_threads=False).aggregate([("m", "max")])
    last_of = dict(
        zip(newest.column("a").to_pylist(), newest.column("m_max").to_pylist(), strict=True)
    )
    gn = {k: grouped.column(f"{k}_sum") for k in ind}
    total = pc.add(pc.add(gn["n0"], gn["n1"]), pc.add(gn["n2"], gn["n3"]))
    bucket_cols = [_int64s(pa, c) for c in (
        ga, gp, gm, gn["n0"], gn["n1"], gn["nh"], pc.subtract(gn["n1"], gn["nh"]), gn["n2"],
        gn["n3"],
    )]  # fmt: skip

    # Rows the aggregate looks at one by one: bounces and deferrals with a diag (signature
    # hits, bounce samples). Few; taken in line order.
    diag_col = None
    if cols.diag >= 0:
        diag_col = event_rows(column(cols.diag))
    look = pc.indices_nonzero(pc.or_(bounced, pc.equal(kind, _lit(pa, int(Kind.DEFERRED)))))
    hit_groups = None
    sample_rows = None
    diag_of: list[str] = []
    if len(look) and diag_col is not None:
        dd = _dict(pc, pc.take(diag_col, look))
        diag_of = [d[:MAX_TEXT] for d in dd.dictionary.to_pylist()]
        hit_groups = pa.table({
            "a": pc.take(aidx, look), "p": pc.take(pidx, look), "m": pc.take(minute, look),
            "d": dd.indices.cast(pa.int64()),
        }).group_by(["a", "p", "m", "d"], use_threads=False).aggregate(
            [([], "count_all")]).to_pydict()  # fmt: skip
    if len(look):
        # Bounce samples: the first 20 bounces of each IP, in line order.
        lc = pc.take(cidx, look).to_pylist()
        lk = pc.take(kind, look).to_pylist()
        per_ip: dict[str, int] = dict(agg._samples_by_ip)
        chosen: list[int] = []
        for j, (c, k) in enumerate(zip(lc, lk, strict=True)):
            if k == 1:
                ip_ = attrs[c][0]
                kd = per_ip.get(ip_, 0)
                if kd < _SAMPLES_PER_IP:
                    per_ip[ip_] = kd + 1
                    chosen.append(j)
        if chosen:
            pick = pc.take(look, pa.array(chosen, pa.int64()))
            sample_rows = {
                "c": pc.take(cidx, pick).to_pylist(), "p": pc.take(dom_i, pick).to_pylist(),
                "t": pc.take(ts_row, pick).to_pylist(), "h": pc.take(hard, pick).to_pylist(),
                "s": pc.take(st_i, pick).to_pylist(), "b": pc.take(cat_i, pick).to_pylist(),
                "d": (pc.take(diag_col, pick).to_pylist() if diag_col is not None
                      else [""] * len(chosen)),
            }  # fmt: skip
    # Events of no IP, and the unmapped names among them in order of their first event
    # (what the line loop would admit).
    no_ip = pc.take(pa.array([not k[0] for k in keys_a], pa.bool_()), ga)
    unattributed = pc.sum(pc.filter(total, no_ip)).as_py() or 0
    unmapped_first: dict[str, tuple[int, int]] = {}
    if unattributed:
        per = pa.table({"a": pc.filter(ga, no_ip), "n": pc.filter(total, no_ip)})
        per_a = per.group_by("a", use_threads=False).aggregate([("n", "sum")]).to_pydict()
        first_row = _first_rows(pa, pc, aidx, len(keys_a))
        for a, n in zip(per_a["a"], per_a["n_sum"], strict=True):
            vm = keys_a[a][1]
            if vm:
                unmapped_first[vm] = (first_row[a], n)  # one (ip, vmta) key per name

    def apply() -> None:
        apply_counts(ignored, n_events, unattributed)
        st = parser.stats
        for vm, (_f, n) in sorted(unmapped_first.items(), key=lambda kv: kv[1][0]):
            u = st.unmapped
            if vm in u or len(u) < MAX_UNMAPPED:
                u[vm] = u.get(vm, 0) + n
        ga_, gp_, gm_, *counts = bucket_cols  # counts in bucket column order
        cols = BucketColumns(keys_a, keys_p, ga_, gp_, gm_, counts, last_of)
        if not agg.bucket_count():  # unique keys in table order: kept as columns
            agg.set_columns(cols)
        else:
            add_buckets(agg.buckets, cols.items())
            agg.ordered = False
        agg.events += n_events
        if agg.last_event_at is None or last > agg.last_event_at:
            agg.last_event_at = last
        if sample_rows is not None:
            sr = sample_rows
            for c, p, t, h, s_, b_, d in zip(
                sr["c"], sr["p"], sr["t"], sr["h"], sr["s"], sr["b"], sr["d"], strict=True
            ):
                ip_, vm = attrs[c]
                agg._samples_by_ip[ip_] = agg._samples_by_ip.get(ip_, 0) + 1
                agg.samples.append(_new(Event, (
                    float(t), Kind.BOUNCED, ip_ or None, vm or None, bool(h), dom_of[p],
                    status_of[s_], d[:MAX_TEXT], cat_of[b_], "",
                )))  # fmt: skip
        if hit_groups is None:
            return
        sigs = agg.signatures if agg.signatures is not None else default_signatures()
        hits = agg.signature_hits
        sig_of = [sigs.match(d) if d else None for d in diag_of]  # match is pure
        hg = hit_groups
        for a, p, m, di, n in zip(hg["a"], hg["p"], hg["m"], hg["d"], hg["count_all"], strict=True):
            sig = sig_of[di]
            if sig is not None:
                hk = (keys_a[a][0], keys_p[p], sig.id, m)
                hits[hk] = hits.get(hk, 0) + n

    return apply


_UNIX_TIME = r"^[0-9]{1,15}$"
_STD_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:[+-][0-9]{4})?$"
# _STD_TIME cut in two at [16:19]: the ":SS" and the rest (a value has the layout exactly
# when both parts do), each judged once per distinct part instead of by RE2 per row.
_STD_SECONDS = re.compile(r":[0-9]{2}")
_STD_MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(?:[+-][0-9]{4})?")


def _times_by_minute(parser, pa, pc, ev, max_ts):  # type: ignore[no-untyped-def]
    """(seconds, minute) per event row (``ev``: their times) when every one has the standard
    layout, judged once per distinct minute by ``parser._time`` (its seconds are digits, as
    the parser reads them: base + int(sec), ``:60`` included); False if an event row's time
    is out of range (malformed); None for another layout (the caller judges each value)."""
    ev = ev.combine_chunks() if hasattr(ev, "num_chunks") else ev
    got = _std_times(pa, pc, ev) or _std_or_unix_times(pa, pc, ev)
    if got is None:
        return None  # Unix seconds are the only other layout judged here
    keys, sec = got
    if pc.max(sec).as_py() > 60:
        return False  # the parser refuses seconds above 60
    base_of = []
    for key in keys.dictionary.to_pylist():
        if key.isdigit():  # Unix seconds: float(s), exact below 2**53
            base_of.append(int(key))
            continue
        base = parser._time(key[:16] + ":00" + key[16:])
        if base is None:
            return False
        if base != int(base):
            return None
        base_of.append(int(base))
    ts = pc.add(pc.take(pa.array(base_of, pa.int64()), keys.indices), sec)
    lo, hi = pc.min(ts).as_py(), pc.max(ts).as_py()
    if lo < MIN_TS or hi > max_ts:
        return False
    minute = pc.multiply(pc.divide(ts, _lit(pa, 60)), _lit(pa, 60))
    return ts.cast(pa.float64()), minute


def _std_times(pa, pc, ev):  # type: ignore[no-untyped-def]
    """(minute keys, seconds) when every value has the standard layout (the two parts of
    _STD_TIME judged per distinct part), else None."""
    sl = _dict(pc, pc.utf8_slice_codeunits(ev, 16, 19))
    parts = sl.dictionary.to_pylist()
    if not all(_STD_SECONDS.fullmatch(p) for p in parts):
        return None
    keys = _dict(pc, pc.utf8_replace_slice(ev, 16, 19, ""))
    if not all(_STD_MINUTE.fullmatch(k) for k in keys.dictionary.to_pylist()):
        return None
    return keys, pc.take(pa.array([int(p[1:]) for p in parts], pa.int64()), sl.indices)


def _std_or_unix_times(pa, pc, ev):  # type: ignore[no-untyped-def]
    """(keys, seconds) when every value has the standard layout or is Unix seconds (the
    key is then the value itself, its seconds 0), else None."""
    std = pc.match_substring_regex(ev, _STD_TIME)
    unix = pc.match_substring_regex(ev, _UNIX_TIME)
    if not pc.all(pc.or_(std, unix)).as_py():
        return None
    sec = pc.cast(pc.if_else(std, pc.utf8_slice_codeunits(ev, 17, 19), _lit(pa, "0")), pa.int64())
    return _dict(pc, pc.if_else(std, pc.utf8_replace_slice(ev, 16, 19, ""), ev)), sec


def _after_last(pa, pc, col, sep):  # type: ignore[no-untyped-def]
    """Each string's part after its last ``sep`` (all of it without one), per row: what
    ``s.rpartition(sep)[2]`` gives (Arrow splits once from the right; the last piece of
    each list is taken)."""
    out = []
    for chunk in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        parts = pc.split_pattern(chunk, sep, max_splits=1, reverse=True)
        offsets = parts.offsets  # where each row's pieces start in parts.flatten()
        last = pc.subtract(offsets[1:], pa.scalar(offsets[0].as_py() + 1, offsets.type))
        out.append(pc.take(parts.flatten(), last))
    return pa.chunked_array(out, pa.string())


def _lit(pa, v):  # type: ignore[no-untyped-def]
    """``v`` (an int or a str) as an Arrow scalar: a Python literal passed to a compute call
    is converted on every call, and that conversion tries ``import dateutil`` each time (a
    failed import, ~0.2 ms, where it is not installed: 4 ms a batch). Made with its type
    given, a scalar costs none of that."""
    return pa.scalar(v, pa.int64() if isinstance(v, int) else pa.string())


def _int64s(pa, col):  # type: ignore[no-untyped-def]
    """An Arrow integer column (no nulls) as ``array('q')``: its bytes copied once, where
    a list would be an object per value (and pickle one by one)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if arr.type != pa.int64() or arr.null_count:
        return array("q", arr.to_pylist())
    out = array("q")
    out.frombytes(memoryview(arr.buffers()[1])[arr.offset * 8 : (arr.offset + len(arr)) * 8])
    return out


def _dict(pc, arr):  # type: ignore[no-untyped-def]
    """``arr`` dictionary-encoded as one DictionaryArray (chunked or not)."""
    d = pc.dictionary_encode(arr)
    return d.combine_chunks() if hasattr(d, "num_chunks") else d


def _first_rows(pa, pc, cidx, n):  # type: ignore[no-untyped-def]
    """The first row index of every combo code 0..n-1."""
    rows = pa.table({"c": cidx, "i": pa.array(range(len(cidx)), pa.int64())})
    g = rows.group_by("c", use_threads=False).aggregate([("i", "min")]).to_pydict()
    out = [0] * n
    for c, i in zip(g["c"], g["i_min"], strict=True):
        out[c] = i
    return out


def _status(parser: PmtaParser, raw: str) -> str:
    cache = parser._status_cache
    status = cache.get(raw, "")
    if not status and raw:
        status = enhanced_code(raw)
        if len(cache) >= 4096:
            cache.clear()
        cache[raw] = status
    return status


def _product(sizes: tuple[int, ...]) -> int:
    out = 1
    for s in sizes:
        out *= max(1, s)
    return out
