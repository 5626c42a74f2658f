"""Two cores for a backlog (core/engine/backlog.py): a worker reads a big file's first part
and streams it to the reader, which commits it and reads the rest itself; the reader's own
batches are committed only when their reading stands for the in-order one. Every database
row (buckets, signature hits, bounce samples, counters, checkpoints with their parser
state) must equal a one-process reading's, whether the second part was taken or read
again; a SIGKILL at any moment then a rerun is exact. PowerMTA: test_ingest_backlog_pmta."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from opsconsole.core.engine import backlog
from opsconsole.core.engine.reader import SourceReader, SourceSpec
from opsconsole.core.sources.postfix import PostfixParser
from opsconsole.core.sources.reading import iter_lines
from tests.helpers.db import reset as reset_db
from tests.helpers.db import rows

NOW = float(int(time.time()))  # the CLI reads with the wall clock: same year for classic
T0 = NOW - 3 * 86_400
IP_MAP = {"postfix/out1": "192.0.2.1", "postfix/out2": "192.0.2.2"}
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.org", "web.de", "mail.ru"]
DIAGS = [
    "host mx[198.51.100.5] said: 550 5.7.1 Service unavailable; client blocked using"
    " Spamhaus (in reply to RCPT TO command)",
    "host mx[198.51.100.5] said: 421 4.7.0 [TSS04] Messages temporarily deferred due to"
    " unexpected volume or user complaints",
    "host mx[198.51.100.5] said: 550 5.1.1 user unknown (in reply to RCPT TO command)",
    "host mx[198.51.100.5] said: 452 4.2.2 Mailbox full",
]


def stamp(ts: float, style: str) -> str:
    if style == "classic":
        return time.strftime("%b %e %H:%M:%S", time.gmtime(ts))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}+00:00"


def write_log(
    path: Path, seed: int, n: int, style: str = "classic", gap: int = 40, chains: float = 0.1
) -> None:
    """Postfix lines with content-filter chains (a hop to 127.0.0.1:10024 that says
    ``queued as NEWID``; the re-injection's ``smtpd`` line before or after it, up to ``gap``
    lines apart), deliveries to several providers through two mapped transports and an
    unmapped one, bounces and deferrals that match block signatures, expired notices and
    garbage."""
    rng = random.Random(seed)
    later: list[tuple[int, str]] = []  # (line index to emit at, text)
    out: list[str] = []
    qid = 0x1000000 + seed * 7919
    for i in range(n):
        ts = T0 + i * 86_400 / n
        s = stamp(ts, style)
        while later and later[0][0] <= i:
            out.append(later.pop(0)[1].replace("@TS@", s))
        qid += rng.randrange(1, 9)
        q = f"{qid:X}"
        tag = rng.choice(["postfix/out1/smtp", "postfix/out2/smtp", "postfix/smtp"])
        dom = rng.choice(DOMAINS)
        r = rng.random()
        if r < chains:  # a content-filter chain
            new = f"{qid + 0x500000:X}"
            hop = (
                f"{s} mx postfix/smtp[9]: {q}: to=<a{i}@{dom}>, relay=127.0.0.1[127.0.0.1]"
                f":10024, delay=1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {new})"
            )
            inj = f"@TS@ mx postfix/smtpd[7]: {new}: client=localhost[127.0.0.1]"
            real = (
                f"@TS@ mx {tag}[8]: {new}: to=<a{i}@{dom}>, relay=mx.{dom}[198.51.100.7]:25,"
                " delay=2, dsn=2.0.0, status=sent (250 ok)"
            )
            k = i + rng.randrange(1, gap)
            if rng.random() < 0.5:
                out.append(inj.replace("@TS@", s))
                later.append((k, hop.replace(s, "@TS@", 1)))
            else:
                out.append(hop)
                later.append((k, inj))
            later.append((k + 1, real))
            later.sort(key=lambda x: x[0])
        elif r < 0.1:
            out.append(f"{s} mx postfix/pickup[3]: {q}: uid=0 from=<root>")
        elif r < 0.12:
            out.append(
                f"{s} mx postfix/qmgr[5]: {q}: from=<b@s.test>, status=expired, returned to sender"
            )
        elif r < 0.13:
            out.append(rng.choice(["garbage, not syslog", "\x00\xff binary", "::: :::"]))
        elif r < 0.4:
            out.append(f"{s} mx postfix/qmgr[5]: {q}: from=<b@s.test>, size=99, nrcpt=1")
        else:
            word = rng.choices(["sent", "bounced", "deferred"], [70, 18, 12])[0]
            dsn = {"sent": "2.0.0", "bounced": "5.7.1", "deferred": "4.7.0"}[word]
            text = "250 ok" if word == "sent" else rng.choice(DIAGS)
            out.append(
                f"{s} mx {tag}[8]: {q}: to=<u{i}@{dom}>, relay=mx.{dom}[198.51.100.7]:25,"
                f" delay=0.5, dsn={dsn}, status={word} ({text})"
            )
    out += [t.replace("@TS@", stamp(T0 + 86_400, style)) for _, t in later]
    path.write_text("\n".join(out) + "\n", encoding="utf-8", errors="surrogateescape")


DUMPS = {
    "bucket": "SELECT * FROM bucket ORDER BY ip, subuser, provider, minute",
    "signature_hit": "SELECT * FROM signature_hit ORDER BY ip, provider, signature, minute",
    "bounce_sample": "SELECT ts, ip, subuser, rcpt_domain, status, hard, diag, source"
    " FROM bounce_sample ORDER BY id",
    "ingest_counter": "SELECT source, format, path, lines, events, ignored, malformed,"
    " unattributed, internal, expired, last_event_at, samples FROM ingest_counter",
    "source_checkpoint": 'SELECT host, path, source, dev, inode, "offset", first_line_hash,'
    " parser_state FROM source_checkpoint ORDER BY path",
}


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {t: [tuple(r) for r in rows(url, sql)] for t, sql in DUMPS.items()}


async def _read(  # type: ignore[no-untyped-def]
    url: str, path: Path, two: bool, batch_bytes: int, fmt="postfix", ip_map=None, fast=None,
    early=False,
) -> SourceReader | None:  # fmt: skip
    from opsconsole.core.aggregate import BatchAggregate
    from opsconsole.core.sources import make_parser
    from opsconsole.core.sources.tail import DEFAULT_MAX_LINES
    from opsconsole.storage.db import open_database
    from opsconsole.storage.store import SqlStore

    ip_map = IP_MAP if ip_map is None else ip_map
    engine = await open_database(url)
    try:
        r = SourceReader(
            SqlStore(engine),
            SourceSpec(str(path), fmt, str(path), ip_map),
            clock=lambda: NOW,
            batch_bytes=batch_bytes,
            fast_batch=fast,
        )
        r.two_cores = two
        r.split_min_bytes = 0
        if early:  # forked before the database is read, as the CLI does (cli/ingest.py)
            r.early_worker = backlog.early(
                str(path), fmt, max_bytes=batch_bytes, max_lines=DEFAULT_MAX_LINES, min_bytes=0,
                make_parser=lambda: make_parser(fmt, ip_map, now=lambda: NOW),
                make_agg=BatchAggregate, fast=fast,
            )  # fmt: skip
            assert r.early_worker is not None
        await r.open()
        await r.poll()
        r.close()
        return r
    finally:
        await engine.dispose()


def read(url: str, path: Path, two: bool, batch_bytes: int = 32 << 10, **kw: Any) -> list[int]:
    """Ingest ``path`` into a fresh ``url``; the splits whose second part was taken (+) or
    read again in order (-)."""
    reset_db(url)
    r = asyncio.run(_read(url, path, two, batch_bytes, **kw))
    assert r is not None
    return r.splits


SHARE = backlog.HOOKS["postfix"].share


def split_state(path: Path, batch_bytes: int = 32 << 10) -> dict[str, Any]:
    """The parser state the in-order reading has at the split point."""
    fd = os.open(path, os.O_RDONLY)
    try:
        split = backlog.plan_split(fd, 0, os.fstat(fd).st_size, batch_bytes, 100_000, SHARE)
        assert split is not None
        p = PostfixParser(IP_MAP, now=lambda: NOW)
        for lines in iter_lines(fd, 0, split):
            for _ in p.feed(lines):
                pass
        return p.get_state()
    finally:
        os.close(fd)


def test_two_processes_equal_one_whether_the_split_is_taken_or_not(
    tmp_path: Path, db_url: str
) -> None:
    seen: dict[str, int] = {}
    for seed in range(1, 40):
        path = tmp_path / f"mail-{seed}.log"
        write_log(path, seed, 6000, style="classic" if seed % 2 else "rfc3339")
        st = split_state(path)
        case = "pending" if st.get("pending") else "recent" if st.get("recent") else "empty"
        if seen.get(case, 0) >= 2:
            continue
        one = read(db_url, path, two=False)
        assert one == []
        want = dump(db_url)
        got = read(db_url, path, two=True)  # a round per split; what is left splits again
        assert got and [abs(s) for s in got] == sorted(abs(s) for s in got)
        if case == "pending":
            assert got[0] < 0  # a chain open at the split: the reader read on in order
        elif got[0] > 0:
            seen["taken"] = seen.get("taken", 0) + 1
        assert dump(db_url) == want, (seed, case, got)
        assert want["bucket"] and want["signature_hit"] and want["bounce_sample"]
        seen[case] = seen.get(case, 0) + 1
        if seen.get("pending", 0) >= 2 and seen.get("recent", 0) >= 2:
            break
    assert seen.get("pending", 0) >= 2 and seen.get("recent", 0) >= 2, seen
    assert seen.get("taken", 0) >= 1, seen  # ... and a second part taken with known ids


def test_an_early_worker_says_its_split_and_the_reading_is_one_processs(
    tmp_path: Path, db_url: str
) -> None:
    """An early worker (forked before the database is read, as the CLI forks it) walks to
    its own split and says it; the reader's second part starts there without a walk."""
    path = tmp_path / "mail.log"
    write_log(path, 5, 6000)
    assert read(db_url, path, two=False) == []
    want = dump(db_url)
    got = read(db_url, path, two=True, early=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        split = backlog.plan_split(fd, 0, os.fstat(fd).st_size, 32 << 10, 100_000, SHARE)
    finally:
        os.close(fd)
    assert got and abs(got[0]) == split, got
    assert dump(db_url) == want


def test_a_second_part_that_missed_an_id_known_before_the_split_is_refused(
    tmp_path: Path, db_url: str
) -> None:
    """A re-injection logged just before the split and its hop just after: the second part,
    read with no state, takes the hop for a candidate; the merge must refuse it."""
    base = tmp_path / "base.log"
    write_log(base, 3, 3000)
    data = base.read_bytes()
    fd = os.open(base, os.O_RDONLY)
    try:
        split = backlog.plan_split(fd, 0, len(data), 32 << 10, 100_000, SHARE)
    finally:
        os.close(fd)
    assert split is not None
    s = stamp(T0 + 50_000, "classic")
    inj = f"{s} mx postfix/smtpd[7]: ABCDEF123456: client=localhost[127.0.0.1]\n".encode()
    hop = (
        f"{s} mx postfix/smtp[9]: 99AA: to=<z@gmail.com>, relay=127.0.0.1[127.0.0.1]:10024,"
        " dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABCDEF123456)\n"
    ).encode()
    # the injection line replaces the end of the batch before the split (same length)
    head = data[:split]
    cut = head.rfind(b"\n", 0, len(head) - 1) + 1
    body = head[:cut] + inj
    path = tmp_path / "mail.log"
    path.write_bytes(body + hop + data[split:])
    read(db_url, path, two=False)
    want = dump(db_url)
    got = read(db_url, path, two=True)
    assert dump(db_url) == want
    assert want["ingest_counter"][0][8] >= 1  # internal: the hop was recognised
    assert got and got[0] < 0, got


# --------------------------------------------------------------------------- kill -9


def _opsconsole(*args: str) -> list[str]:
    return [sys.executable, "-m", "opsconsole", *args]


@pytest.mark.sqlite_only
def test_sigkill_during_a_two_process_ingest_then_rerun_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    write_log(path, 11, 450_000, gap=8, chains=0.002)  # > backlog.MIN_BYTES: the CLI splits
    assert path.stat().st_size > backlog.MIN_BYTES + (8 << 20)
    at_split = split_state(path, 8 << 20)
    assert at_split["recent"] and not at_split["pending"]  # the second part is taken
    url_one = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    read(url_one, path, two=False, batch_bytes=8 << 20)
    want = dump(url_one)
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    maps = [a for k, v in IP_MAP.items() for a in ("--ip-map", f"{k}={v}")]
    cmd = _opsconsole("--db", url, "ingest", str(path), "--format", "postfix", *maps)
    env = dict(os.environ)
    rng = random.Random(5)
    # a run takes ~2.5 s on a quiet machine: kills land in either half and in the commits
    # of the second part (a killed run resumes from its last checkpoint and splits again)
    for delay in sorted(0.4 + rng.random() * 2.2 for _ in range(5)):
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=60)
        got = dump(url)
        if got["source_checkpoint"]:
            end = got["source_checkpoint"][0][5]
            n = rows(url, "SELECT coalesce(sum(delivered), 0) FROM bucket")[0][0]
            assert n == _delivered_before(path, end)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = dump(url)
    assert got["bucket"] == want["bucket"]
    assert got["signature_hit"] == want["signature_hit"]
    assert got["ingest_counter"][0][3:11] == want["ingest_counter"][0][3:11]
    assert got["bounce_sample"] == want["bounce_sample"]
    assert [_ck(r) for r in got["source_checkpoint"]] == [_ck(r) for r in want["source_checkpoint"]]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and dump(url)["bucket"] == want["bucket"]


def _delivered_before(path: Path, end: int) -> int:
    """Delivered events in the file's first ``end`` bytes, counted in order in one parser."""
    fd = os.open(path, os.O_RDONLY)
    try:
        p = PostfixParser(IP_MAP, now=lambda: NOW)
        n = 0
        for lines in iter_lines(fd, 0, end):
            n += sum(1 for ev in p.feed(lines) if ev[1].name == "DELIVERED")
        return n
    finally:
        os.close(fd)


def _ck(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A checkpoint without the reading clocks (the CLI reads at wall-clock time)."""
    state = json.loads(row[7])
    rec = state.pop("_reading")
    return (*row[3:7], state, rec["end"], rec["crc"])


async def _read_stopping(url: str, path: Path, stop_after: list[int]) -> int:
    """A one-shot reading in order (no split: the read-ahead path) whose keep_going says
    stop after each count of commits in ``stop_after``; polls again after each stop."""
    from opsconsole.storage.db import open_database
    from opsconsole.storage.store import SqlStore

    engine = await open_database(url)
    try:
        r = SourceReader(
            SqlStore(engine), SourceSpec(str(path), "postfix", str(path), IP_MAP),
            clock=lambda: NOW, batch_bytes=32 << 10,
        )  # fmt: skip
        r.two_cores, r.split_min_bytes = True, 1 << 40
        commits = 0

        async def keep_going() -> bool:
            nonlocal commits
            commits += 1
            return commits not in stop_after

        r.keep_going = keep_going
        await r.open()
        polls = 0
        while True:
            polls += 1
            if not (await r.poll()).bytes:
                break
        r.close()
        return polls
    finally:
        await engine.dispose()


def test_a_stop_while_the_next_batch_is_read_ahead_loses_nothing(
    tmp_path: Path, db_url: str
) -> None:
    """The read-ahead has parsed a batch past the one a stop commits: the next poll reads it
    again from the database's position, once."""
    path = tmp_path / "mail.log"
    write_log(path, 7, 6000)
    read(db_url, path, two=False)
    want = dump(db_url)
    reset_db(db_url)
    polls = asyncio.run(_read_stopping(db_url, path, [1, 2, 5, 9]))
    assert polls >= 5  # it did stop, four times
    assert dump(db_url) == want
