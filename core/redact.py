"""Showing where a secret points without showing the secret."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# ``scheme://user:password@`` anywhere in a text (a driver's error, a log line)
_USERINFO = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*):[^\s@'\"]*@")


def scrub(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m.group('pre')}:***@", text)


def redact_text(text: str, url: str) -> str:
    """``text`` (an error about ``url``) with ``url``'s password and the URL itself hidden."""
    out = scrub(text)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        out = out.replace(password, "***")
    if url and "://" in url and not url.startswith("sqlite"):
        out = out.replace(url, redact_url(url))
    return out


def redact_url(url: str) -> str:
    """Keep scheme and host so an operator can tell which endpoint; hide path and creds."""
    if not url or set(url) == {"*"}:
        return url
    if "://" not in url:
        return scrub(url) if "@" not in url else "***"
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    if parts.scheme.startswith("sqlite"):
        return url
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{port}/***"


def not_a_url(url: str) -> str | None:
    """Why ``url`` is no database URL at all (a path, a typo), or None: the one message
    for settings (exit 2) and for storage's own callers."""
    if "://" in url:
        return None
    return (
        f"not a database URL: {redact_url(url)!r}"
        " (use sqlite+aiosqlite:///PATH or postgresql+asyncpg://HOST/DB)"
    )


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite[+driver]:///path`` URL; None for other databases and memory."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.startswith("sqlite"):
        return None
    path = unquote(rest.partition("?")[0])
    if path.startswith("file:"):  # a URI filename (storage/db.py opens files that way)
        path = unquote(path[5:].removeprefix("//localhost"))
    return None if path in ("", ":memory:") else path
