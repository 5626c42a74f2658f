"""``opsconsole ingest --rescan FILE...``: replace what a file contributed with a fresh
reading (with the flags given now), exactly and in one transaction per file.

The old contribution is not stored: it is reproduced by reading the file's already-read
bytes again with the parameters recorded with its checkpoint (core/sources/reading.py),
after checking by CRC that the file still holds those bytes. storage/rescan.py swaps the
two readings. Every refusal is one line on stderr and exit 2, nothing changed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from opsconsole.cli._common import fail

SHOWN = ("delivered", "bounced", "deferred", "complaints")
_IDX = {"delivered": 0, "bounced": 1, "deferred": 4, "complaints": 5}


@dataclass
class _Plan:
    path: str
    fmt: str
    fd: int
    saved: Any  # SavedCheckpoint
    record: dict[str, Any]
    source: str = ""
    stats: list[Any] = field(default_factory=list)


async def run(engine: Any, files: list[tuple[str, str]], params: dict[str, Any], host: str,
              dry_run: bool, output: str) -> int:  # fmt: skip
    from opsconsole.core.ports import CheckpointConflict
    from opsconsole.storage import checkpoints, rescan
    from opsconsole.storage.store import SqlStore

    saved = await checkpoints.load_checkpoints(engine, host)
    for path, _ in files:
        if path not in saved:  # read under another --host by mistake?
            found = await rescan.positions_of(engine, path)
            if len(found) > 1:
                hosts = ", ".join(c.host for c in found)
                fail(f"{path}: read by several hosts ({hosts}); give --host")
            if found:
                saved[path] = found[0]
    plans = [_check(path, fmt, saved.get(path)) for path, fmt in files]
    try:
        for p in plans:
            p.source = await rescan.checkpoint_source(engine, p.saved.host, p.path) or p.path
        outcomes = []
        for p in plans:
            old, new, cp = _readings(p, params)
            try:
                out = await rescan.commit_rescan(
                    engine, host=host, source=p.source, fmt=p.fmt, expected=p.saved,
                    new_checkpoint=cp, old=old, new=new, now=time.time(), dry_run=dry_run,
                )  # fmt: skip
            except CheckpointConflict:
                fail(f"{p.path}: another reader moved its position during the rescan; run again")
            outcomes.append((p, old, new, out))
    finally:
        for p in plans:
            os.close(p.fd)
    if not dry_run:
        await SqlStore(engine).analyze()
    _report(outcomes, dry_run, output)
    return 0


def _check(path: str, fmt: str, saved: Any) -> _Plan:
    """Refuse (exit 2) unless ``path`` was read with a record and still holds those bytes."""
    from opsconsole.core.sources import reading

    if fmt in ("sendgrid", "mailgun", "ses"):
        fail(f"{path}: ESP payload files cannot be rescanned (their events count once by id)")
    if saved is None:
        fail(f"{path}: never ingested (on this host); use ingest without --rescan")
    rec = reading.record_of(saved.parser_state)
    if rec is None:
        fail(f"{path}: cannot rescan: it was read before rescans were recorded")
    if "broken" in rec:
        fail(f"{path}: cannot rescan: {rec['broken']}")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    try:
        st = os.fstat(fd)
        end = int(rec["end"])
        if st.st_ino != rec["ino"] or saved.checkpoint.inode != st.st_ino:
            raise _Changed("it is another file now (rotated or replaced)")
        if end != saved.checkpoint.offset:
            raise _Changed("its position and its reading record disagree")
        if st.st_size < end:
            raise _Changed(f"it is shorter than the {end:,} bytes read (truncated)")
        if reading.crc_range(fd, 0, end) != rec["crc"]:
            raise _Changed(f"its first {end:,} bytes differ from what was read")
    except _Changed as e:
        os.close(fd)
        fail(f"{path}: changed since it was ingested: {e}; nothing was changed")
    except OSError as e:
        os.close(fd)
        fail(f"cannot read {path}: {e.strerror or e}")
    return _Plan(path, fmt, fd, saved, rec)


class _Changed(Exception):
    pass


def _readings(p: _Plan, params: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The old reading (replayed), the new one (bytes [0, last complete line) now) and the
    checkpoint after the new one."""
    from opsconsole.core.aggregate import BatchAggregate
    from opsconsole.core.ports import SavedCheckpoint
    from opsconsole.core.sources import make_parser, reading
    from opsconsole.core.sources.base import ParseStats
    from opsconsole.core.sources.tail import Checkpoint, prefix_hash

    def make(prm: dict[str, Any], clock: Any) -> Any:
        return make_parser(
            prm["fmt"], prm["ip_map"], now=clock, internal_relays=tuple(prm["relays"])
        )

    def reader() -> tuple[BatchAggregate, ParseStats, Any]:
        agg, total = BatchAggregate(), ParseStats()

        def feed(parser: Any, lines: list[str]) -> None:
            agg.add_all(parser.feed(lines))
            _add(total, parser.stats.take())

        return agg, total, feed

    old_agg, old_stats, feed = reader()
    reading.replay(p.record, p.fd, make, feed)
    st = os.fstat(p.fd)
    end = reading.complete_end(p.fd, st.st_size)
    now = time.time()
    new_params = {**params, "fmt": p.fmt}
    new_agg, new_stats, feed = reader()
    parser = make(new_params, time.time)
    for lines in reading.iter_lines(p.fd, 0, end):
        feed(parser, lines)
    state = dict(parser.get_state())
    state[reading.KEY] = reading.advance(
        None, ino=st.st_ino, start=0, end=end, now=now, params=new_params,
        crc_from=lambda seed: reading.crc_range(p.fd, 0, end, seed),
    )  # fmt: skip
    cp = Checkpoint(p.path, st.st_dev, st.st_ino, end, prefix_hash(p.fd, end))
    return (old_agg, old_stats), (new_agg, new_stats), SavedCheckpoint(cp, state, p.saved.host)


def _add(total: Any, s: Any) -> None:
    for name in ("lines", "events", "ignored", "malformed", "unattributed", "internal", "expired"):
        setattr(total, name, getattr(total, name) + getattr(s, name))
    for k, n in s.unmapped.items():
        total.unmapped[k] = total.unmapped.get(k, 0) + n


def _report(outcomes: list[Any], dry_run: bool, output: str) -> None:
    import json
    import sys

    from opsconsole.output import Column, emit

    verb = "would replace" if dry_run else "replaced"
    data = []
    rows = []
    for p, (_, old), (_, new), out in outcomes:
        sys.stderr.write(
            f"opsconsole: {p.path}: {verb} {old.events:,} events of {old.lines:,} lines"
            f" with {new.events:,} events of {new.lines:,} lines"
            f" ({new.unattributed:,} unattributed, {new.malformed:,} malformed)\n"
        )
        if out.skipped_minutes:
            sys.stderr.write(
                f"opsconsole: {p.path}: {out.skipped_minutes:,} bucket rows not written:"
                " retention had dropped those minutes\n"
            )
        for ip in sorted(set(out.before) | set(out.after)):
            b, a = out.before.get(ip, [0] * 6), out.after.get(ip, [0] * 6)
            if b == a and not any(b):
                continue
            data.append({"file": p.path, "ip": ip or None,
                         "before": {c: b[_IDX[c]] for c in SHOWN},
                         "after": {c: a[_IDX[c]] for c in SHOWN}})  # fmt: skip
            rows.append([p.path, ip or "(unattributed)",
                         *[v for c in SHOWN for v in (b[_IDX[c]], a[_IDX[c]])]])  # fmt: skip
    if output == "json":
        sys.stdout.write(json.dumps({"dry_run": dry_run, "ips": data}, indent=2) + "\n")
        return
    cols = [Column("file", fold=True), Column("ip")]
    cols += [Column(f"{c}_{w}", right=True) for c in SHOWN for w in ("before", "after")]
    emit("rescan", cols, rows, fmt=output, data=data)
