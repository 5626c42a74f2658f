"""Files opsconsole writes for people: exports readable by their owner only."""

from __future__ import annotations

import os


def write_private(path: str, text: str) -> None:
    """Create or replace ``path`` readable by its owner only (0600), also when an existing,
    more open file is overwritten. Raises OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
    finally:
        if fd >= 0:
            os.close(fd)
