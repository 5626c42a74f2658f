"""The file tailer on real files: complete lines only, resume, identity, errors, globs."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

import pytest

from opsconsole.core.sources.tail import (
    HASH_BYTES,
    Batch,
    Checkpoint,
    Tailer,
    decode_lines,
    line_pieces,
    prefix_hash,
)


def drain(t: Tailer) -> list[Batch]:
    out: list[Batch] = []
    while batch := t.poll():
        out.extend(batch)
    return out


def lines_of(batches: list[Batch]) -> list[str]:
    return [line for b in batches for line in b.lines]


def last_ckpts(batches: list[Batch]) -> dict[str, Checkpoint]:
    return {b.path: b.checkpoint for b in batches}


def append(path: Path, data: bytes | str) -> None:
    with path.open("ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def test_complete_lines_only_partial_left_unconsumed(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_bytes(b"one\ntwo\nthr")
    with Tailer(str(p)) as t:
        got = drain(t)
        assert lines_of(got) == ["one", "two"]
        assert got[-1].end_offset == 8
        assert got[-1].checkpoint.offset == 8
        assert t.poll() == []  # the partial line stays put
        append(p, "ee\nfou")
        got = drain(t)
        assert lines_of(got) == ["three"]
        assert (got[0].start_offset, got[0].end_offset) == (8, 14)
        append(p, "r\n")
        assert lines_of(drain(t)) == ["four"]


def test_checkpoint_identity_and_hash(tmp_path: Path) -> None:
    p = tmp_path / "acct.csv"
    p.write_bytes(b"type,rcpt\nd,a@example.com\n")
    with Tailer(str(p)) as t:
        (b,) = drain(t)
    st = os.stat(p)
    assert b.path == str(p)
    assert b.rotated_from is None
    assert b.checkpoint == Checkpoint(
        str(p),
        st.st_dev,
        st.st_ino,
        p.stat().st_size,
        hashlib.sha1(p.read_bytes()).hexdigest(),
    )


def test_empty_file_gets_a_position_only_batch(tmp_path: Path) -> None:
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    with Tailer(str(p)) as t:
        (b,) = drain(t)
        assert b.lines == [] and b.checkpoint.offset == 0 and b.checkpoint.first_line_hash == ""
        assert t.poll() == []


def test_decoding_replaces_bad_utf8_and_splits_on_newline_only(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_bytes(b"caf\xc3\xa9\nbad \xff\xfe end\r\nform\x0cfeed \xe2\x80\xa8 ls\n\n")
    with Tailer(str(p)) as t:
        assert lines_of(drain(t)) == [
            "café",
            "bad \ufffd\ufffd end\r",
            "form\x0cfeed \u2028 ls",
            "",
        ]


def test_batches_bounded_by_bytes_and_lines(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    want = [f"line {i:05d}" for i in range(1000)]
    p.write_text("".join(w + "\n" for w in want))
    with Tailer(str(p), max_bytes=1000, max_lines=30) as t:
        got = drain(t)
    assert lines_of(got) == want
    for a, b in itertools.pairwise(got):
        assert a.end_offset == b.start_offset
    assert all(len(b.lines) <= 30 and b.end_offset - b.start_offset <= 1000 for b in got)
    assert got[-1].end_offset == p.stat().st_size


def test_raw_batches_are_cut_by_bytes_and_their_lines_come_in_pieces(tmp_path: Path) -> None:
    """A raw batch ignores max_lines (its bytes are not counted line by line); the line
    parser's fallback takes its lines at most max_lines at a time, the same lines (and
    OVERLONG markers) decode_lines gives for the whole batch."""
    p = tmp_path / "x.log"
    want = [f"l{i}" if i != 40 else "y" * 300 for i in range(200)]
    p.write_text("".join(w + "\n" for w in want))
    with Tailer(str(p), max_bytes=1000, max_lines=30, raw_bytes=True) as t:
        got = drain(t)
        assert t.max_lines is None
    assert any(b.data is not None and b.data.count(b"\n") > 30 for b in got)
    for b in got:
        assert b.data is not None
        whole = decode_lines(b.data, 100)
        pieces = list(line_pieces(b.data, 100, 7))
        assert all(len(lines) <= 7 for lines, _ in pieces)
        assert [x for lines, _ in pieces for x in lines] == whole[0]
        assert sum(n for _, n in pieces) == whole[1]
    assert sum(decode_lines(b.data or b"", 100)[1] for b in got) == 1  # the 300-byte line


def test_line_longer_than_max_bytes_is_returned_whole(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    long = "x" * 5000
    p.write_text(f"a\n{long}")
    with Tailer(str(p), max_bytes=256) as t:
        assert lines_of(drain(t)) == ["a"]
        append(p, "\nb\n")
        assert lines_of(drain(t)) == [long, "b"]


def test_resume_from_checkpoint(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text("1\n2\n3\n")
    with Tailer(str(p)) as t:
        first = drain(t)
    append(p, "4\n5\n")
    with Tailer(str(p), last_ckpts(first)) as t:
        assert lines_of(drain(t)) == ["4", "5"]
    # A mapping of checkpoints works as well, and the position survives a no-op run.
    with Tailer(str(p), {str(p): first[-1].checkpoint}) as t:
        assert lines_of(drain(t)) == ["4", "5"]


def test_checkpoint_from_row_duck_types(tmp_path: Path) -> None:
    class Row:
        path = "/x"
        dev = 1
        inode = 2
        offset = 3
        first_line_hash = None
        parser_state = "{}"

    assert Checkpoint.from_row(Row()) == Checkpoint("/x", 1, 2, 3, "")


def test_copytruncate_while_down_restarts_at_zero(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text("a\nb\nc\n")
    with Tailer(str(p)) as t:
        ck = last_ckpts(drain(t))
    with p.open("r+b") as f:  # same inode, now shorter than the offset
        f.truncate(0)
        f.write(b"d\n")
    with Tailer(str(p), ck) as t:
        assert lines_of(drain(t)) == ["d"]


def test_copytruncate_while_following(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text("a\nb\n")
    with Tailer(str(p)) as t:
        assert lines_of(drain(t)) == ["a", "b"]
        with p.open("r+b") as f:
            f.truncate(0)
        got = drain(t)
        assert got and got[-1].checkpoint.offset == 0  # the reset is committed as a position
        append(p, "c\n")
        assert lines_of(drain(t)) == ["c"]
        # truncated and regrown past the old offset between two polls: the hash tells
        with p.open("r+b") as f:
            f.truncate(0)
        append(p, "dd\nee\n")
        assert lines_of(drain(t)) == ["dd", "ee"]


def test_inode_reuse_detected_by_hash(tmp_path: Path) -> None:
    """A different file at the saved (dev, inode), as long as the offset: read it all."""
    p = tmp_path / "maillog"
    p.write_text("Jan 1 old line\nJan 1 old two\n")
    with Tailer(str(p)) as t:
        ck = last_ckpts(drain(t))
    with p.open("r+b") as f:  # same inode, new content at least as long as the offset
        f.write(b"Feb 2 new line\nFeb 2 new two\nFeb 2 three\n")
    with Tailer(str(p), ck) as t:
        assert lines_of(drain(t)) == ["Feb 2 new line", "Feb 2 new two", "Feb 2 three"]
    # Same with a checkpoint that names this inode but hashes other bytes.
    st = p.stat()
    fake = Checkpoint(str(p), st.st_dev, st.st_ino, 15, hashlib.sha1(b"x").hexdigest())
    with Tailer(str(p), [fake]) as t:
        assert len(lines_of(drain(t))) == 3


def test_hash_covers_consumed_prefix_up_to_hash_bytes(tmp_path: Path) -> None:
    p = tmp_path / "acct.csv"
    header = "type,timeLogged,rcpt,dsnStatus\n"
    p.write_text(header + "".join(f"d,2024-01-01,u{i}@x.example,2.0.0\n" for i in range(200)))
    with Tailer(str(p), max_lines=1) as t:
        got = drain(t)
    data = p.read_bytes()
    for b in got:
        n = min(b.end_offset, HASH_BYTES)
        assert b.checkpoint.first_line_hash == hashlib.sha1(data[:n]).hexdigest()
    fd = os.open(p, os.O_RDONLY)
    try:
        assert prefix_hash(fd, 0) == ""
        assert prefix_hash(fd, 10**9) == hashlib.sha1(data[:HASH_BYTES]).hexdigest()
    finally:
        os.close(fd)


def test_dev_renumbered_but_same_content_resumes(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text("a\nb\n")
    with Tailer(str(p)) as t:
        ck = drain(t)[-1].checkpoint
    moved = Checkpoint(ck.path, ck.dev + 12345, ck.inode, ck.offset, ck.first_line_hash)
    append(p, "c\n")
    with Tailer(str(p), [moved]) as t:
        assert lines_of(drain(t)) == ["c"]


def test_glob_picks_up_new_files_and_ignores_compressed(tmp_path: Path) -> None:
    (tmp_path / "acct-1.csv").write_text("a1\n")
    (tmp_path / "acct-0.csv.gz").write_bytes(b"\x1f\x8b junk\n")
    (tmp_path / "acct-dir.csv").mkdir()  # a directory that matches is skipped, not an error
    pattern = str(tmp_path / "acct-*.csv*")
    with Tailer(pattern) as t:
        assert lines_of(drain(t)) == ["a1"]
        (tmp_path / "acct-2.csv").write_text("b1\nb2\n")
        append(tmp_path / "acct-1.csv", "a2\n")
        got = drain(t)
        assert sorted(lines_of(got)) == ["a2", "b1", "b2"]
        assert {b.path for b in got if b.lines} == {
            str(tmp_path / "acct-1.csv"),
            str(tmp_path / "acct-2.csv"),
        }
        assert t.errors == {}
        assert t.paths == [str(tmp_path / "acct-1.csv"), str(tmp_path / "acct-2.csv")]


def test_glob_resumes_each_file_from_its_checkpoint(tmp_path: Path) -> None:
    for n in (1, 2):
        (tmp_path / f"acct-{n}.csv").write_text(f"{n}a\n")
    pattern = str(tmp_path / "acct-*.csv")
    with Tailer(pattern) as t:
        ck = last_ckpts(drain(t))
    for n in (1, 2):
        append(tmp_path / f"acct-{n}.csv", f"{n}b\n")
    (tmp_path / "acct-3.csv").write_text("3a\n")
    with Tailer(pattern, ck) as t:
        assert sorted(lines_of(drain(t))) == ["1b", "2b", "3a"]


def test_hard_link_matched_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x\ny\n")
    os.link(tmp_path / "a.log", tmp_path / "b.log")
    with Tailer(str(tmp_path / "*.log")) as t:
        assert lines_of(drain(t)) == ["x", "y"]
        append(tmp_path / "a.log", "z\n")
        assert lines_of(drain(t)) == ["z"]


def test_deleted_file_is_drained_then_dropped(tmp_path: Path) -> None:
    p = tmp_path / "acct-1.csv"
    p.write_text("a\n")
    with Tailer(str(tmp_path / "acct-*.csv")) as t:
        assert lines_of(drain(t)) == ["a"]
        with p.open("ab") as w:
            w.write(b"b\n")
            p.unlink()
            w.write(b"c\n")  # written after the unlink, to the still open file
            w.flush()
            got = drain(t)
        assert lines_of(got) == ["b", "c"]
        assert all(b.rotated_from is not None for b in got)
        assert t.paths == [] and t.errors == {}
        p.write_text("new\n")  # the same name again is a new file
        assert lines_of(drain(t)) == ["new"]


def test_missing_plain_path_reported_then_read_when_it_appears(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    with Tailer(str(p)) as t:
        assert t.poll() == []
        assert t.errors == {str(p): "file not found"}
        p.write_text("hello\n")
        assert lines_of(drain(t)) == ["hello"]
        assert t.errors == {}


def _provoke_unreadable(p: Path) -> None:
    """Something at ``p`` that cannot be read as a log file, for root and others alike."""
    if os.geteuid() == 0:
        p.mkdir()  # root bypasses permissions; a directory still cannot be tailed
    else:
        p.write_text("secret\n")
        p.chmod(0)


def test_unreadable_file_reported_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "bad.log"
    good = tmp_path / "good.log"
    _provoke_unreadable(bad)
    good.write_text("ok\n")
    with Tailer([str(bad), str(good)]) as t:
        assert lines_of(drain(t)) == ["ok"]
        assert set(t.errors) == {str(bad)}
        append(good, "still\n")
        assert lines_of(drain(t)) == ["still"]
        # fixed: the error clears and the file is read
        if bad.is_dir():
            bad.rmdir()
        else:
            bad.unlink()
        bad.write_text("now\n")
        assert lines_of(drain(t)) == ["now"]
        assert t.errors == {}


def test_permission_denied_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root bypasses file permissions")
    p = tmp_path / "x.log"
    p.write_text("a\n")
    p.chmod(0)
    with Tailer(str(p)) as t:
        assert t.poll() == []
        assert "ermission" in t.errors[str(p)]


def test_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    with Tailer(str(fifo)) as t:
        assert t.poll() == []
        assert t.errors == {str(fifo): "not a regular file"}


def test_unreadable_glob_match_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root bypasses file permissions")
    (tmp_path / "a.log").write_text("a\n")
    (tmp_path / "b.log").write_text("b\n")
    (tmp_path / "b.log").chmod(0)
    with Tailer(str(tmp_path / "*.log")) as t:
        assert lines_of(drain(t)) == ["a"]
        assert list(t.errors) == [str(tmp_path / "b.log")]


def test_poll_respects_max_batches_and_returns_empty_when_caught_up(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_text("".join(f"{i}\n" for i in range(100)))
    with Tailer(str(p), max_lines=10) as t:
        assert len(t.poll(max_batches=3)) == 3
        rest = t.poll(max_batches=None)
        assert len(rest) == 7 and rest[-1].lines[-1] == "99"
        assert t.poll() == []
        assert t.checkpoints()[str(p)].offset == p.stat().st_size


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Tailer("x", max_bytes=0)
    with pytest.raises(ValueError):
        Tailer("x", max_lines=0)
