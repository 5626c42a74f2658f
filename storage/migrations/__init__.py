"""The schema's versioned steps, one module each: ``vNNN_what.py`` with ``VERSION`` and
``up(conn)`` (a plain function of a sync connection, run on SQLite and PostgreSQL alike).

A module per step means two changes that each add a step never edit the same lines.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from sqlalchemy.engine import Connection

Step = tuple[int, Callable[[Connection], None]]


def steps() -> list[Step]:
    """Every step in version order; duplicate or missing versions are a bug, refused."""
    found: list[Step] = []
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("v"):
            continue
        m = importlib.import_module(f"{__name__}.{mod.name}")
        found.append((int(m.VERSION), m.up))
    found.sort(key=lambda s: s[0])
    versions = [v for v, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migration versions must be 1..n without gaps: {versions}")
    return found
