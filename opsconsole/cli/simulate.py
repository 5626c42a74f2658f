"""``opsconsole simulate``: write a realistic MTA log from the built-in traffic model.

No Textual here (commands must start fast over SSH); Rich only for a progress bar on a TTY.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsconsole.cli._common import fail, parse_time
from opsconsole.core.sources import FORMATS

if TYPE_CHECKING:
    from opsconsole.core.events import Event
    from opsconsole.simulator import Scenario, Truth

STYLES = ("classic", "rfc3339")

HELP = """Write a simulated MTA log (real line formats) for testing ingestion and the console.

\b
Traffic comes from a seeded model: pools `bulk` (203.0.113.1-4) and `transactional`
(203.0.113.10-11), warming IPs 198.51.100.20-22, one IP going bad (5.7.1 spam blocks,
~20% bounces by the end), one at warning (~7%), one at critical (~12%). The same seed
gives the same file. `--truth` writes the exact per-IP counts of what was written, and
the name -> IP map (vmta, Postfix syslog name, KumoMTA egress source) to ingest it with.

\b
Examples:
  opsconsole simulate --format pmta --out /tmp/acct.csv
  opsconsole simulate --format postfix --out /tmp/maillog --events 1000000 --style rfc3339
  opsconsole simulate --format kumo --out /tmp/kumo.jsonl --hours 2 --end 2026-03-02T10:00:00Z
  opsconsole simulate --format jsonl --out /tmp/ev.jsonl --seed 7 --truth /tmp/truth.json
"""


def _int(value: str, option: str, minimum: int) -> int:
    try:
        n = int(value.replace("_", ""))
    except ValueError:
        fail(f"{option}: not an integer: {value!r}")
    if n < minimum:
        fail(f"{option}: must be at least {minimum}, got {n}")
    return n


def simulate(
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="pmta, postfix, kumo or jsonl.", metavar="FORMAT"),
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", "-o", help="File to write (overwritten).", metavar="FILE")
    ] = None,
    events: Annotated[
        str, typer.Option("--events", "-n", help="Number of events.", metavar="N")
    ] = "100000",
    seed: Annotated[str, typer.Option("--seed", help="Random seed.", metavar="N")] = "1",
    hours: Annotated[
        str, typer.Option("--hours", help="Span of the traffic, ending at --end.", metavar="H")
    ] = "24",
    end: Annotated[
        str | None,
        typer.Option(
            "--end", help="Time of the last event, ISO 8601 (default: now).", metavar="TIME"
        ),
    ] = None,
    style: Annotated[
        str | None,
        typer.Option("--style", help="Postfix timestamps: classic or rfc3339.", metavar="STYLE"),
    ] = None,
    truth: Annotated[
        str | None,
        typer.Option(
            "--truth", help="Also write the truth (exact counts) as JSON.", metavar="FILE"
        ),
    ] = None,
) -> None:
    if fmt is None:
        fail("--format is required (pmta, postfix, kumo or jsonl)")
    if fmt not in FORMATS:
        fail(f"--format must be pmta, postfix, kumo or jsonl, not {fmt!r}")
    if not out:
        fail("--out FILE is required")
    if style is not None and fmt != "postfix":
        fail("--style applies to --format postfix only")
    if style is not None and style not in STYLES:
        fail(f"--style must be classic or rfc3339, not {style!r}")
    n = _int(events, "--events", 0)
    seed_n = _int(seed, "--seed", 0)
    try:
        span_h = float(hours)
    except ValueError:
        fail(f"--hours: not a number: {hours!r}")
    if not span_h > 0 or span_h > 24 * 366:
        fail(f"--hours must be more than 0 and at most a year, got {hours}")
    end_ts = parse_time(end, "--end") if end else time.time()
    start_ts = end_ts - span_h * 3600

    from opsconsole.simulator import Scenario, generate_events, write_file

    scenario = Scenario.default()
    options: dict[str, Any] = {"style": style or "classic"} if fmt == "postfix" else {}
    # Open the truth file first: an unwritable path fails before the long part.
    truth_file = None
    if truth:
        try:
            truth_file = open(truth, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            fail(f"cannot write {truth}: {e.strerror or e}")
    started = time.perf_counter()
    stream = generate_events(scenario, n, start_ts, end_ts, seed=seed_n)
    try:
        if sys.stdout.isatty() and sys.stderr.isatty():
            result = _write_with_progress(fmt, out, stream, scenario, seed_n, n, options)
        else:
            result = write_file(fmt, out, stream, scenario=scenario, seed=seed_n, **options)
    except OSError as e:
        if truth_file is not None:
            truth_file.close()
            _remove(truth)
        fail(f"cannot write {out}: {e.strerror or e}")
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    elapsed = time.perf_counter() - started
    if truth_file is not None:
        doc = result.as_dict()
        doc.update(seed=seed_n, start=start_ts, end=end_ts, requested_events=n)
        with truth_file:
            json.dump(doc, truth_file, indent=2)
            truth_file.write("\n")
    typer.echo(
        f"wrote {n} events ({result.lines} lines, {fmt}) to {out} in {elapsed:.1f}s"
        + (f"; truth in {truth}" if truth else "")
    )


def _write_with_progress(
    fmt: str,
    out: str,
    stream: Iterable[Event],
    scenario: Scenario,
    seed: int,
    n: int,
    options: dict[str, Any],
) -> Truth:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from opsconsole.simulator import write_file

    with Progress(
        TextColumn("simulate"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} events"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("simulate", total=n)
        return write_file(
            fmt,
            out,
            stream,
            scenario=scenario,
            seed=seed,
            progress=lambda done: progress.update(task, completed=done),
            **options,
        )


def _remove(path: str | None) -> None:
    import os

    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)


def register(app: typer.Typer) -> None:
    app.command("simulate", help=HELP, no_args_is_help=False)(simulate)
