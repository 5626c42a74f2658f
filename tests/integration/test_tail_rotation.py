"""The tailer across rotation (rename-and-create, copytruncate), restarts and crashes.

The caller contract under test: commit each batch's checkpoint with its lines before asking
for more, and after a crash start a new Tailer from the last committed checkpoints.
"""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from opsconsole.core.sources.tail import Batch, Checkpoint, Tailer


def drain(t: Tailer) -> list[Batch]:
    out: list[Batch] = []
    while batch := t.poll():
        out.extend(batch)
    return out


def lines_of(batches: list[Batch]) -> list[str]:
    return [line for b in batches for line in b.lines]


def numbered(lo: int, hi: int) -> str:
    return "".join(f"{i}\n" for i in range(lo, hi))


def test_rename_and_create_while_following(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    old = p.open("ab", buffering=0)
    old.write(b"a\nb\n")
    with Tailer(str(p)) as t:
        assert lines_of(drain(t)) == ["a", "b"]
        p.rename(tmp_path / "maillog.1")
        old.write(b"c\n")  # the writer has not reopened yet
        p.write_text("d\n")
        old.write(b"e\n")
        old.close()
        got = drain(t)
        assert lines_of(got) == ["c", "e", "d"]
        assert [b.rotated_from for b in got if b.lines] == [str(tmp_path / "maillog.1"), None]
        new = p.stat()
        assert got[-1].checkpoint.inode == new.st_ino
        assert all(b.path == str(p) for b in got)
        append = p.open("ab")
        append.write(b"f\n")
        append.close()
        assert lines_of(drain(t)) == ["f"]


def test_rename_then_create_later(tmp_path: Path) -> None:
    """The path is missing for a while between the rename and the create."""
    p = tmp_path / "maillog"
    p.write_text("a\n")
    with Tailer(str(p)) as t:
        assert lines_of(drain(t)) == ["a"]
        with p.open("ab") as f:
            f.write(b"b\n")
        p.rename(tmp_path / "maillog.1")
        assert lines_of(drain(t)) == ["b"]
        assert t.errors == {str(p): "file not found"}
        p.write_text("c\n")
        assert lines_of(drain(t)) == ["c"]
        assert t.errors == {}


def test_rotate_grace_keeps_old_descriptor(tmp_path: Path) -> None:
    now = [0.0]
    p = tmp_path / "maillog"
    old = p.open("ab", buffering=0)
    old.write(b"a\n")
    with Tailer(str(p), rotate_grace=5.0, clock=lambda: now[0]) as t:
        assert lines_of(drain(t)) == ["a"]
        p.rename(tmp_path / "maillog.1")
        p.write_text("new\n")
        assert lines_of(drain(t)) == []  # old is idle but within the grace: wait
        old.write(b"late\n")  # a writer that reopens its log late
        now[0] += 3
        assert lines_of(drain(t)) == ["late"]
        now[0] += 3
        assert lines_of(drain(t)) == []  # it was busy 3 s ago
        now[0] += 6
        assert lines_of(drain(t)) == ["new"]
        old.close()


def test_copytruncate_while_following_loses_nothing_it_had_read(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    w = p.open("ab", buffering=0)  # O_APPEND, as loggers do
    w.write(numbered(0, 10).encode())
    with Tailer(str(p)) as t:
        assert lines_of(drain(t)) == [str(i) for i in range(10)]
        shutil.copyfile(p, tmp_path / "maillog.1")
        os.truncate(p, 0)
        w.write(numbered(10, 13).encode())
        assert lines_of(drain(t)) == ["10", "11", "12"]
    w.close()


def rotate_rename(p: Path) -> None:
    one = p.with_name(p.name + ".1")
    if one.exists():
        one.rename(p.with_name(p.name + ".2"))
    p.rename(one)


def test_rotation_while_down_reads_rest_of_old_then_new(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text(numbered(0, 100))
    with Tailer(str(p), max_lines=7) as t:
        part = t.poll(max_batches=3)  # read a part, commit it, go down
    committed = part[-1].checkpoint
    with p.open("ab") as f:  # more lines before the rotation
        f.write(numbered(100, 120).encode())
    rotate_rename(p)
    p.write_text(numbered(120, 200))
    with Tailer(str(p), [committed]) as t:
        rest = drain(t)
    seen = Counter(lines_of(part) + lines_of(rest))
    assert seen == Counter(str(i) for i in range(200))
    assert {b.rotated_from for b in rest if b.lines} == {str(tmp_path / "maillog.1"), None}


def test_crash_while_draining_the_rotated_file(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text(numbered(0, 50))
    with Tailer(str(p), max_lines=10) as t:
        first = t.poll(max_batches=1)
    rotate_rename(p)
    p.write_text(numbered(50, 80))
    with Tailer(str(p), [first[-1].checkpoint], max_lines=10) as t:
        second = t.poll(max_batches=2)  # part of the rotated file; then a crash
    assert all(b.rotated_from == str(tmp_path / "maillog.1") for b in second)
    with Tailer(str(p), [second[-1].checkpoint], max_lines=10) as t:
        third = drain(t)
    seen = Counter(lines_of(first + second + third))
    assert seen == Counter(str(i) for i in range(80))


def test_rotated_file_missing_after_restart_reads_new_from_start(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text("a\nb\n")
    with Tailer(str(p)) as t:
        ck = drain(t)[-1].checkpoint
    p.rename(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").unlink()
    p.write_text("c\n")
    with Tailer(str(p), [ck]) as t:
        assert lines_of(drain(t)) == ["c"]


def test_glob_that_matches_rotated_names_does_not_reread_in_process(tmp_path: Path) -> None:
    p = tmp_path / "maillog"
    p.write_text("a\n")
    with Tailer(str(tmp_path / "maillog*")) as t:
        assert lines_of(drain(t)) == ["a"]
        with p.open("ab") as f:
            f.write(b"b\n")
        rotate_rename(p)
        p.write_text("c\n")
        assert sorted(lines_of(drain(t))) == ["b", "c"]
        with (tmp_path / "maillog.1").open("ab") as f:
            f.write(b"late\n")  # appended to the renamed file after we were done with it
        assert lines_of(drain(t)) == ["late"]
        assert lines_of(drain(t)) == []


class Harness:
    """A writer that rotates and a caller that commits batches, crashes and restarts."""

    def __init__(self, tmp_path: Path, rng: random.Random) -> None:
        self.rng = rng
        self.p = tmp_path / "maillog"
        self.w = self.p.open("ab", buffering=0)
        self.stream = b""  # bytes of generated lines not yet written
        self.next_n = 0  # numbers generated so far
        self.complete = 0  # numbers whose newline has been written
        self.committed: list[int] = []
        self.ckpts: dict[str, Checkpoint] = {}
        self.max_bytes = rng.choice([64, 300, 4096, 1 << 20])
        self.t = self.tailer()
        self.safe_to_rotate = False  # not before the reader has seen the first file
        self.gap = False  # renamed, new file not created yet

    def tailer(self) -> Tailer:
        return Tailer(str(self.p), self.ckpts, max_bytes=self.max_bytes, max_lines=50)

    def gen(self) -> None:
        payload = self.rng.choice(
            [b"", b"x" * self.rng.randrange(1, 400), "é ü 😀".encode(), b"\xff\xfe"]
        )
        self.stream += f"{self.next_n} ".encode() + payload + b"\n"
        self.next_n += 1

    def write(self, nbytes: int) -> None:
        if self.gap:
            self.w.close()
            self.w = self.p.open("ab", buffering=0)
            self.gap = False
            self.safe_to_rotate = False
        while len(self.stream) < nbytes:
            self.gen()
        chunk, self.stream = self.stream[:nbytes], self.stream[nbytes:]
        self.w.write(chunk)
        self.complete += chunk.count(b"\n")

    def finish_line(self) -> None:
        if self.stream:
            self.write(len(self.stream))

    def rotate(self) -> None:
        self.finish_line()
        if self.rng.random() < 0.3 and not self.gap and len(self.committed) == self.complete:
            # copytruncate, only when caught up: lines between our read and the truncation
            # are lost by design, so the writer waits for the reader here.
            shutil.copyfile(self.p, self.p.with_name("maillog.1"))
            os.truncate(self.p, 0)
        else:
            rotate_rename(self.p)
            for _ in range(self.rng.randrange(3)):
                self.gen()
                self.finish_line()  # late writes to the renamed file, before the next poll
            if self.rng.random() < 0.3:
                self.gap = True
            else:
                self.w.close()
                self.w = self.p.open("ab", buffering=0)
        self.safe_to_rotate = False

    def commit(self, batches: list[Batch]) -> None:
        for b in batches:
            self.committed.extend(int(line.split(" ", 1)[0]) for line in b.lines)
            self.ckpts[b.path] = b.checkpoint

    def poll(self) -> None:
        batches = self.t.poll(max_batches=self.rng.choice([None, 1, 2, 5]))
        assert self.t.errors in ({}, {str(self.p): "file not found"})
        if self.rng.random() < 0.15:
            k = self.rng.randrange(len(batches) + 1)
            self.commit(batches[:k])  # crash before committing batch k
            self.t.close()
            self.t = self.tailer()
            return
        self.commit(batches)
        if not batches:
            self.safe_to_rotate = True

    def run(self, steps: int) -> None:
        for _ in range(steps):
            r = self.rng.random()
            if r < 0.5:
                self.write(self.rng.randrange(1, 3000))
            elif r < 0.58 and self.safe_to_rotate and not self.gap:
                self.rotate()
            else:
                self.poll()
        self.finish_line()
        if self.gap:
            self.write(0)
        for _ in range(1000):
            batches = self.t.poll(max_batches=None)
            self.commit(batches)
            if not batches:
                break
        self.t.close()
        self.w.close()


@pytest.mark.parametrize("seed", range(40))
def test_random_cuts_rotations_and_crashes_read_every_line_once(tmp_path: Path, seed: int) -> None:
    h = Harness(tmp_path, random.Random(seed))
    h.run(400)
    assert h.complete == h.next_n
    dupes = [n for n, k in Counter(h.committed).items() if k > 1]
    missing = sorted(set(range(h.next_n)) - set(h.committed))
    assert not dupes and not missing, (dupes[:10], missing[:10])
    assert len(h.committed) == h.next_n
