"""Showing where a secret points without showing the secret."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def redact_url(url: str) -> str:
    """Keep scheme and host so an operator can tell which endpoint; hide path and creds."""
    if not url or set(url) == {"*"}:
        return url
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    if parts.scheme.startswith("sqlite"):
        return url
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{port}/***"


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite[+driver]:///path`` URL; None for other databases and memory."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.startswith("sqlite"):
        return None
    path = unquote(rest.partition("?")[0])
    return None if path in ("", ":memory:") else path
