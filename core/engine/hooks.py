"""Action hooks: how a decision reaches the real MTA.

Each ``[[actions]]`` entry runs an argv (never a shell) when a matching action happens.
Placeholders ``{action} {ip} {pool} {subuser} {reason}`` (and, for provider actions,
``{provider}`` and ``{domains}``: comma-separated) are replaced inside each argv item,
so a value is always exactly one argument: a diagnostic like ``$(touch /tmp/x)`` arrives
as literal text and is never interpreted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opsconsole.core.config import HookConfig

PLACEHOLDERS = ("action", "ip", "pool", "subuser", "reason", "provider", "domains")
OUTPUT_TAIL = 500


def build_argv(template: Sequence[str], values: dict[str, str]) -> list[str]:
    argv = []
    for item in template:
        for name in PLACEHOLDERS:
            item = item.replace("{" + name + "}", values.get(name, ""))
        argv.append(item)
    return argv


class HookRunner:
    def __init__(self, actions: Sequence[HookConfig]) -> None:
        self.actions = list(actions)

    def matching(self, action: str) -> list[HookConfig]:
        return [a for a in self.actions if action in a.on]

    async def run(self, action: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run every hook for ``action`` concurrently; one outcome dict per hook."""
        values = {k: str(action.get(k) or "") for k in PLACEHOLDERS}
        values["action"] = str(action["action"])
        hooks = self.matching(values["action"])
        return list(await asyncio.gather(*(self._run_one(h, values) for h in hooks)))

    async def _run_one(self, hook: HookConfig, values: dict[str, str]) -> dict[str, Any]:
        argv = build_argv(hook.run, values)
        started = time.monotonic()
        outcome: dict[str, Any] = {"argv": argv}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as e:
            outcome.update(ok=False, error=f"cannot run {argv[0]}: {e.strerror}")
            return outcome
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), hook.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            outcome.update(ok=False, error=f"timed out after {hook.timeout:g}s")
            return outcome
        finally:
            outcome["seconds"] = round(time.monotonic() - started, 3)
        outcome.update(
            ok=proc.returncode == 0,
            returncode=proc.returncode,
            output=out.decode("utf-8", "replace")[-OUTPUT_TAIL:],
        )
        return outcome
