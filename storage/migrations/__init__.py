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
    """Every step in version order; a duplicate version is a bug, refused. Versions may
    skip numbers (steps are numbered when written, merged in any order)."""
    found: list[Step] = []
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("v"):
            continue
        m = importlib.import_module(f"{__name__}.{mod.name}")
        found.append((int(m.VERSION), m.up))
    found.sort(key=lambda s: s[0])
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found
