"""Which format a file is in, from a sample of its first lines: pure, no I/O.

A wrong ``--format`` used to read a whole file as malformed and checkpoint it as done;
now ``ingest`` samples the file first: a file the chosen parser cannot read is refused
(exit 2, nothing recorded) with the format it looks like, and ``--format auto`` picks the
format that reads the sample best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opsconsole.core.sources import FORMATS, make_parser
from opsconsole.core.sources.base import Now

SAMPLE_LINES = 256
MIN_LINES = 20  # fewer sampled lines prove nothing
BAD_SHARE = 0.9  # this share of malformed lines means "not this format"


@dataclass(frozen=True, slots=True)
class Reading:
    fmt: str
    lines: int
    good: int  # events + well-formed ignored lines
    malformed: int

    @property
    def good_share(self) -> float:
        return self.good / self.lines if self.lines else 0.0


def read_sample(fmt: str, lines: Sequence[str], now: Now) -> Reading:
    parser = make_parser(fmt, {}, now=now)
    for _ in parser.feed(lines):
        pass
    s = parser.stats
    good = s.events + s.ignored + s.internal + s.expired + getattr(parser, "pending", 0)
    return Reading(fmt, s.lines, good, s.malformed)


def detect(lines: Sequence[str], now: Now) -> Reading | None:
    """The format that reads ``lines`` best, or None when none reads half of them."""
    readings = [read_sample(fmt, lines, now) for fmt in FORMATS]
    best = max(readings, key=lambda r: (r.good_share, -r.malformed))
    return best if best.good_share >= 0.5 else None


def refuses(fmt: str, lines: Sequence[str], now: Now) -> str | None:
    """Why ``fmt`` cannot be the format of a file starting with ``lines`` (None: it can)."""
    r = read_sample(fmt, lines, now)
    if r.lines < MIN_LINES or r.malformed < BAD_SHARE * r.lines:
        return None
    why = f"{r.malformed} of {r.lines} sampled lines are not {fmt}"
    other = detect(lines, now)
    if other is not None and other.fmt != fmt:
        return f"{why}; it looks like {other.fmt} (--format {other.fmt})"
    return why
