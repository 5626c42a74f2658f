"""Execute a plan so the MTA is never left half-configured.

Steps run in order. Files are written to a temporary file in the same directory and moved
into place with ``os.replace`` (readers see the old or the new file, never half of one).
Commands run as an argv in their own process group, so a timeout kills the command and
everything it started. If any step fails, the steps already done are undone in reverse: a
file gets its previous content back (or disappears if it did not exist), a ``Run`` step's
``rollback`` argv runs, an ``Http`` step's ``rollback`` request is sent. The result carries
what the audit log needs: each step's line, exit code or HTTP status, output tail, duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from opsconsole.core.mta.base import Http, JsonValue, RemoveFile, Run, Step, WriteFile

OUTPUT_TAIL = 500


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int | None  # None: could not start or timed out
    output: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int | None
    body: JsonValue
    text: str
    error: str | None = None


class Runner:
    """How steps reach the world: subprocesses and an injected httpx client.

    ``env`` replaces the environment of commands (tests put stand-ins first on PATH);
    ``clock`` only measures durations.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.env = dict(env) if env is not None else None
        self.clock = clock

    async def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # its own process group, killed as one
            )
        except OSError as e:
            return CommandResult(None, "", f"cannot run {argv[0]}: {e.strerror}")
        buf = bytearray()

        async def pump() -> None:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                buf.extend(chunk)
                del buf[: max(0, len(buf) - 4 * OUTPUT_TAIL)]
            await proc.wait()

        try:
            await asyncio.wait_for(pump(), timeout)
        except TimeoutError:
            # Kill the whole group: a reload script's children must not outlive it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
            return CommandResult(None, _tail(bytes(buf)), f"timed out after {timeout:g}s")
        return CommandResult(proc.returncode, _tail(bytes(buf)))

    async def request(self, method: str, url: str, body: JsonValue) -> HttpResult:
        if self.http is None:
            return HttpResult(None, None, "", "no HTTP client configured")
        try:
            resp = await self.http.request(method, url, json=body)
        except httpx.HTTPError as e:
            return HttpResult(None, None, "", f"{type(e).__name__}: {e}")
        parsed: JsonValue = None
        with contextlib.suppress(ValueError):
            parsed = resp.json()
        return HttpResult(resp.status_code, parsed, resp.text[-OUTPUT_TAIL:])


def _tail(data: bytes) -> str:
    return data.decode("utf-8", "replace")[-OUTPUT_TAIL:]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    describe: str
    ok: bool
    returncode: int | None = None  # exit code, or HTTP status for Http steps
    output_tail: str = ""
    duration: float = 0.0
    response: JsonValue = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    ok: bool
    steps: tuple[StepOutcome, ...] = ()
    error: str | None = None
    rolled_back: tuple[StepOutcome, ...] = field(default=())


def write_atomic(path: str, content: str, mode: int) -> None:
    """Write ``content`` beside ``path`` then ``os.replace`` it in (same filesystem)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _snapshot(path: str) -> tuple[str | None, int]:
    try:
        st = os.stat(path)
        return Path(path).read_text(encoding="utf-8"), st.st_mode & 0o7777
    except FileNotFoundError:
        return None, 0o644


@dataclass(slots=True)
class _Done:
    step: Step
    undo: Step | None  # what restores the world; None: nothing to undo


async def _execute(step: Step, runner: Runner) -> tuple[StepOutcome, Step | None]:
    started = runner.clock()
    text = step.describe()

    def took() -> float:
        return round(runner.clock() - started, 3)

    if isinstance(step, WriteFile | RemoveFile):
        try:
            before, mode = _snapshot(step.path)
            if isinstance(step, WriteFile):
                write_atomic(step.path, step.content, step.mode)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(step.path)
        except OSError as e:
            return StepOutcome(text, False, None, f"{e.strerror}: {step.path}", took()), None
        undo: Step = RemoveFile(step.path) if before is None else WriteFile(step.path, before, mode)
        return StepOutcome(text, True, None, "", took()), undo
    if isinstance(step, Run):
        res = await runner.run(step.argv, step.timeout)
        ok = res.returncode == 0 and res.error is None
        tail = res.output if res.error is None else f"{res.output}{res.error}"[-OUTPUT_TAIL:]
        run_undo = Run(step.rollback, timeout=step.timeout) if step.rollback else None
        return StepOutcome(text, ok, res.returncode, tail, took()), run_undo
    hres = await runner.request(step.method, step.url, step.json_body)
    ok = hres.status is not None and 200 <= hres.status < 300
    http_undo: Http | None = step.rollback
    if http_undo is not None and step.rollback_takes_id and isinstance(hres.body, dict):
        base = http_undo.json_body if isinstance(http_undo.json_body, dict) else {}
        http_undo = replace(http_undo, json_body={**base, "id": hres.body.get("id")})
    tail = hres.error if hres.error is not None else hres.text
    return StepOutcome(text, ok, hres.status, tail, took(), hres.body), http_undo


async def apply(steps: Sequence[Step], runner: Runner) -> ApplyResult:
    """Run ``steps``; on the first failure undo the finished ones in reverse order."""
    outcomes: list[StepOutcome] = []
    done: list[_Done] = []
    for step in steps:
        outcome, undo = await _execute(step, runner)
        outcomes.append(outcome)
        if outcome.ok:
            done.append(_Done(step, undo))
            continue
        error = f"step {len(outcomes)} failed: {outcome.describe}"
        rolled: list[StepOutcome] = []
        for d in reversed(done):
            if d.undo is None:
                continue
            back, _ = await _execute(d.undo, runner)
            rolled.append(replace(back, describe=f"undo: {back.describe}"))
        if any(not r.ok for r in rolled):
            error += "; rollback incomplete"
        return ApplyResult(False, tuple(outcomes), error, tuple(rolled))
    return ApplyResult(True, tuple(outcomes))


def outcome_json(result: ApplyResult) -> str:
    """The audit record of an apply, as one JSON line."""

    def one(o: StepOutcome) -> dict[str, JsonValue]:
        return {
            "step": o.describe,
            "ok": o.ok,
            "returncode": o.returncode,
            "output": o.output_tail,
            "seconds": o.duration,
        }

    return json.dumps(
        {
            "ok": result.ok,
            "error": result.error,
            "steps": [one(o) for o in result.steps],
            "rolled_back": [one(o) for o in result.rolled_back],
        },
        sort_keys=True,
    )
