"""A renderer by format name, and :func:`write_file`, which streams one to disk."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from opsconsole.core.events import Event
from opsconsole.simulator.render_base import _Renderer
from opsconsole.simulator.render_kumo_jsonl import _JsonlRenderer, _KumoRenderer
from opsconsole.simulator.render_pmta import _PmtaRenderer
from opsconsole.simulator.render_postfix import _PostfixRenderer
from opsconsole.simulator.scenario import Scenario
from opsconsole.simulator.truth import Truth


def _renderer(
    fmt: str, scenario: Scenario | None, seed: int, truth: Truth | None, **options: Any
) -> _Renderer:
    if fmt == "pmta":
        return _PmtaRenderer(scenario, seed, truth, **options)
    if fmt == "postfix":
        return _PostfixRenderer(scenario, seed, truth, **options)
    if fmt == "kumo":
        return _KumoRenderer(scenario, seed, truth, **options)
    if fmt == "jsonl":
        return _JsonlRenderer(scenario, seed, truth, **options)
    raise ValueError(f"unknown format {fmt!r} (pmta, postfix, kumo or jsonl)")


def write_file(
    fmt: str,
    path: str,
    events: Iterable[Event],
    *,
    scenario: Scenario | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    chunk: int = 8192,
    **options: Any,
) -> Truth:
    """Render ``events`` as ``fmt`` into ``path`` (overwritten), streaming; return the truth.

    ``options`` go to the format's renderer (see the ``render_*`` functions; for postfix:
    ``style``, ``transports``, ``noise``, ``ndr``, ``host``). ``progress`` is called with
    the number of events consumed so far after each chunk. Raises OSError when ``path``
    cannot be written, ValueError on a bad option.
    """
    r = _renderer(fmt, scenario, seed, None, **options)
    it = iter(events)
    done = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        write = f.write
        while True:
            batch = list(islice(it, chunk))
            lines = r.render(batch)
            if lines:
                write("\n".join(lines))
                write("\n")
            if not batch:
                break
            done += len(batch)
            if progress is not None:
                progress(done)
    return r.truth
