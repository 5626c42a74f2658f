"""Action hooks: how a decision reaches the real MTA.

Each ``[[actions]]`` entry runs an argv (never a shell) when a matching action happens.
Placeholders ``{action} {ip} {pool} {subuser} {reason}`` (and, for provider actions,
``{provider}`` and ``{domains}``: comma-separated) are replaced inside each argv item,
so a value is always exactly one argument: a diagnostic like ``$(touch /tmp/x)`` arrives
as literal text and is never interpreted.
"""

from __future__ import annotations

from collections.abc import Sequence

PLACEHOLDERS = ("action", "ip", "pool", "subuser", "reason", "provider", "domains")
OUTPUT_TAIL = 500


def build_argv(template: Sequence[str], values: dict[str, str]) -> list[str]:
    argv = []
    for item in template:
        for name in PLACEHOLDERS:
            item = item.replace("{" + name + "}", values.get(name, ""))
        argv.append(item)
    return argv
