"""Driver-level SQL helpers for the hot paths (executemany without per-row ORM objects)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


def placeholders(conn: AsyncConnection, n: int, start: int = 1) -> str:
    """``?, ?, ?`` or ``$1, $2, $3`` ... in the driver's own parameter style."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return ", ".join("?" * n)
    if style in ("numeric_dollar", "numeric"):
        mark = "$" if style == "numeric_dollar" else ":"
        return ", ".join(f"{mark}{i}" for i in range(start, start + n))
    if style == "format":
        return ", ".join(["%s"] * n)
    raise NotImplementedError(f"paramstyle {style}")


async def executemany(conn: AsyncConnection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run ``sql`` (in the driver's paramstyle) once per row with the driver's executemany."""
    if rows:
        await conn.exec_driver_sql(sql, list(rows))
