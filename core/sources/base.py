"""The parser contract every format implements.

A parser is a pure transformation from text lines to :class:`Event` s: no I/O, no clock
other than the ``now`` it is given (for year inference of classic syslog timestamps).
It may keep a little state across calls (PowerMTA's current header) so
that a file can be fed in batches; ``get_state``/``set_state`` let the ingest checkpoint
carry that state, so a re-run from a saved offset parses exactly as one clean run would.

Every line is counted: ``lines`` (all), ``events`` (yielded), ``ignored`` (well-formed but
not a delivery outcome: a Postfix qmgr line, a PowerMTA ``r`` record), ``malformed``
(unparseable; a few kept in ``samples``), ``unattributed`` (an event with no IP). A parser
never raises on input, whatever the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsconsole.core.events import Event

MAX_SAMPLES = 5
MAX_SAMPLE_CHARS = 300


@dataclass
class ParseStats:
    lines: int = 0
    events: int = 0
    ignored: int = 0
    malformed: int = 0
    unattributed: int = 0
    samples: list[str] = field(default_factory=list)

    def bad(self, line: str) -> None:
        """Count one malformed line and keep it (truncated) if there is room."""
        self.malformed += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(line[:MAX_SAMPLE_CHARS])

    def take(self) -> ParseStats:
        """Return the counts so far and reset them (per ingest batch)."""
        out = ParseStats(
            self.lines, self.events, self.ignored, self.malformed, self.unattributed, self.samples
        )
        self.lines = self.events = self.ignored = self.malformed = self.unattributed = 0
        self.samples = []
        return out


class LineParser:
    """One event (or none) per line: the never-raise loop every single-event format shares.

    Subclasses set ``self.stats = ParseStats()`` and implement ``_parse(line)``, which may
    raise on anything malformed: the loop counts it and keeps the line as a sample. Stateless
    by default; a format with state (PowerMTA's header) overrides ``get_state``/``set_state``.
    """

    stats: ParseStats

    def _parse(self, line: str) -> Event | None:
        raise NotImplementedError

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        return None

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        stats = self.stats
        parse = self._parse
        for line in lines:
            stats.lines += 1
            try:
                ev = parse(line)
            except Exception:  # never raise on input, whatever the bytes
                stats.bad(line)
                continue
            if ev is not None:
                stats.events += 1
                if ev.ip is None:
                    stats.unattributed += 1
                yield ev


class Parser(Protocol):
    format: str
    stats: ParseStats

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        """Events from ``lines`` (each without or with its trailing newline)."""
        ...

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable state needed to resume after the lines fed so far."""
        ...

    def set_state(self, state: Mapping[str, Any]) -> None: ...
