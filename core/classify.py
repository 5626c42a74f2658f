"""Hard/soft bounce classification by RFC 3463 enhanced status code and MTA category.

Hard means a list problem (the address or domain is bad); soft is every other permanent
failure, including policy and spam blocks, which are the IP reputation problems this tool
watches. Both count as bounced.
"""

from __future__ import annotations

import re

_HARD_CODES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"})
# PowerMTA bounceCat values and KumoMTA bounce_classification values that mean a list problem.
_HARD_CATEGORIES = frozenset(
    {
        "bad-mailbox",
        "bad-domain",
        "inactive-mailbox",
        "invalidrecipient",
        "baddomain",
        "inactivemailbox",
        "invalid address",
    }
)
ENHANCED_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_code(text: str) -> str:
    """The first enhanced status code in ``text`` ("5.7.1 (denied)" -> "5.7.1"), or ""."""
    m = ENHANCED_RE.search(text)
    return m.group(0) if m else ""


def is_hard(status: str, category: str | None = None) -> bool:
    if category and category.strip().lower() in _HARD_CATEGORIES:
        return True
    return status in _HARD_CODES
