"""One bounce taxonomy across PowerMTA, KumoMTA, ESP webhooks and Postfix.

Each source names failures its own way (PowerMTA ``bounceCat`` "spam-related", KumoMTA
``SpamBlock``, SendGrid "Reputation", Postfix only a status code and text). The report, the TUI
and the alerts need one vocabulary, mostly to tell list problems (``invalid_recipient``) from
the IP's own reputation problems (``reputation``) this tool exists to watch.

Classes
-------
``invalid_recipient``  the address or its domain is bad or gone (a list problem)
``reputation``         the provider blocks, blocklists or throttles the sending IP
``policy``             refused by the receiver's policy, reputation not stated
``auth``               SPF / DKIM / DMARC / reverse-DNS failures: fixable by the sender's DNS,
                       so kept apart from ``policy`` rather than folded into it
``content``            the message itself: spam content, virus, attachment, size
``quota``              mailbox or mail system full
``routing``            technical: DNS, connection, protocol, relaying, expiry, configuration
``other``              none of the above, or nothing to go on

Precedence
----------
1. A definite source category wins. One exception: a category that only says ``policy``
   (PowerMTA "policy-related", KumoMTA ``PolicyRelated``) is refined to ``reputation`` or
   ``auth`` when the diagnostic carries a provider block signature: MTAs file provider blocks
   under policy, and the signature is the more precise witness.
2. A conclusive status code (X.1.x addressing, X.2.x mailbox): the receiver said exactly why.
3. A signature in the diagnostic (:mod:`opsconsole.core.signatures`): ``auth`` for an ``auth``
   signature, else ``reputation``. It beats the remaining, generic codes (5.7.1, 4.7.0, 5.0.0).
4. The remaining status codes by RFC 3463 subject (and the RFC 7372 auth codes).
5. A few unambiguous phrases in the text ("user unknown", "mailbox full").

Steps 1 and 2 need no diagnostic, so those answers are cached per (category, status).
"""

from __future__ import annotations

import re
from typing import Final

from opsconsole.core.classify import ENHANCED_RE, enhanced_code
from opsconsole.core.signatures import SignatureSet

__all__ = [
    "AUTH",
    "CLASSES",
    "CONTENT",
    "INVALID_RECIPIENT",
    "LABELS",
    "OTHER",
    "POLICY",
    "QUOTA",
    "REPUTATION",
    "ROUTING",
    "Taxonomy",
    "classify",
]

INVALID_RECIPIENT: Final = "invalid_recipient"
REPUTATION: Final = "reputation"
POLICY: Final = "policy"
AUTH: Final = "auth"
CONTENT: Final = "content"
QUOTA: Final = "quota"
ROUTING: Final = "routing"
OTHER: Final = "other"

CLASSES: Final = (INVALID_RECIPIENT, REPUTATION, POLICY, AUTH, CONTENT, QUOTA, ROUTING, OTHER)
LABELS: Final[dict[str, str]] = {
    INVALID_RECIPIENT: "invalid recipient",
    REPUTATION: "reputation/block",
    POLICY: "policy",
    AUTH: "authentication",
    CONTENT: "content",
    QUOTA: "mailbox full",
    ROUTING: "routing/technical",
    OTHER: "other",
}

# Keys are lower-cased with "-", "_" and spaces removed: "bad-mailbox", "BadMailbox" and
# "Bad Mailbox" meet. A category absent here (or mapped to "") is not definite.
_CATEGORIES: Final[dict[str, str]] = {
    # PowerMTA bounceCat
    "badmailbox": INVALID_RECIPIENT,
    "baddomain": INVALID_RECIPIENT,
    "inactivemailbox": INVALID_RECIPIENT,
    "quotaissues": QUOTA,
    "spamrelated": REPUTATION,
    "policyrelated": POLICY,
    "contentrelated": CONTENT,
    "virusrelated": CONTENT,
    "routingerrors": ROUTING,
    "relayingissues": ROUTING,
    "noanswerfromhost": ROUTING,
    "messageexpired": ROUTING,
    "badconnection": ROUTING,
    "protocolerrors": ROUTING,
    "badconfiguration": ROUTING,
    "invalidsender": POLICY,
    "other": "",
    # KumoMTA bounce_classification (the ones PowerMTA does not share)
    "invalidrecipient": INVALID_RECIPIENT,
    "spamblock": REPUTATION,
    "spamcontent": CONTENT,
    "prohibitedattachment": CONTENT,
    "authenticationfailed": AUTH,
    "dnsfailure": ROUTING,
    "relaydenied": ROUTING,
    "autoreply": OTHER,
    "challengeresponse": OTHER,
    "subscribe": OTHER,
    "unsubscribe": OTHER,
    "transientfailure": "",
    "uncategorized": "",
    # SendGrid bounce_classification
    "invalidaddress": INVALID_RECIPIENT,
    "reputation": REPUTATION,
    "content": CONTENT,
    "frequencyorvolumetoohigh": REPUTATION,
    "mailboxunavailable": QUOTA,
    "technical": ROUTING,
    "unclassified": "",
    # Amazon SES bounceSubType
    "noemail": INVALID_RECIPIENT,
    "suppressed": INVALID_RECIPIENT,
    "onaccountsuppressionlist": INVALID_RECIPIENT,
    "mailboxfull": QUOTA,
    "messagetoolarge": CONTENT,
    "contentrejected": CONTENT,
    "attachmentrejected": CONTENT,
    "general": "",
    "undetermined": "",
}
_CATEGORY_FOLD: Final = str.maketrans("", "", "-_ ")

# RFC 3463 by (subject, detail); a missing detail falls back to (subject, None).
_STATUS: Final[dict[tuple[str, str | None], str]] = {
    ("1", None): INVALID_RECIPIENT,
    ("1", "5"): OTHER,  # destination address valid
    ("1", "7"): POLICY,  # bad sender mailbox syntax
    ("1", "8"): POLICY,  # bad sender system address
    ("2", None): OTHER,
    ("2", "1"): INVALID_RECIPIENT,  # mailbox disabled
    ("2", "2"): QUOTA,
    ("2", "3"): CONTENT,  # message too long for mailbox
    ("2", "4"): ROUTING,  # mailing list expansion problem
    ("3", None): ROUTING,
    ("3", "1"): QUOTA,  # mail system full
    ("3", "4"): CONTENT,  # message too big for system
    ("4", None): ROUTING,
    ("5", None): ROUTING,
    ("6", None): CONTENT,
    ("7", None): POLICY,
    ("7", "13"): INVALID_RECIPIENT,  # user account disabled
    ("7", "17"): INVALID_RECIPIENT,  # mailbox owner has changed
    ("7", "18"): INVALID_RECIPIENT,  # domain owner has changed
    ("7", "28"): REPUTATION,  # mail flood detected
    **{("7", str(d)): AUTH for d in range(20, 27)},  # RFC 7372: DKIM, SPF, DMARC, rDNS
}
_CONCLUSIVE_SUBJECTS: Final = frozenset({"1", "2"})

_PHRASES: Final = (
    (INVALID_RECIPIENT, r"user unknown|unknown user|no such (?:user|mailbox|recipient)"),
    (QUOTA, r"over quota|quota exceeded|mailbox (?:is )?full|insufficient storage"),
    (ROUTING, r"connection (?:timed out|refused)|host not found|no route to host"),
)
_PHRASE_RE: Final = re.compile("|".join(f"(?P<{c}>{p})" for c, p in _PHRASES), re.IGNORECASE)
_CACHE_MAX: Final = 1024
_UNCACHED: Final = ""


def status_class(status: str) -> str:
    """RFC 3463 class of an enhanced code ("5.2.2" -> ``quota``); ``other`` for 2.x.x/none."""
    m = ENHANCED_RE.fullmatch(status)
    if m is None or m.group(1) == "2":
        return OTHER
    subject, detail = m.group(2), m.group(3)
    got = _STATUS.get((subject, detail))
    if got is None:
        got = _STATUS.get((subject, None), OTHER)
    return got


class Taxonomy:
    """Classifies with a given :class:`SignatureSet` (the operator's rows included)."""

    __slots__ = ("_cache", "signatures")

    def __init__(self, signatures: SignatureSet | None = None) -> None:
        self.signatures = signatures if signatures is not None else SignatureSet()
        # (category, status) -> class, or _UNCACHED when the diagnostic decides.
        self._cache: dict[tuple[str, str], str] = {}

    def classify(self, category: str, status: str, diag: str) -> str:
        """The taxonomy class of one failure; see the module docstring for the precedence."""
        key = (category, status)
        got = self._cache.get(key)
        if got is None:
            got = self._without_diag(category, status)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = got
        if got:  # every class is non-empty; _UNCACHED is ""
            return got
        return self._with_diag(category, status, diag)

    def _without_diag(self, category: str, status: str) -> str:
        """The class when category or status settle it, else _UNCACHED."""
        cat = _CATEGORIES.get(category.translate(_CATEGORY_FOLD).lower(), "")
        if cat and cat != POLICY:
            return cat
        code = _code(status)
        if not cat and code and _subject(code) in _CONCLUSIVE_SUBJECTS:
            return status_class(code)
        return _UNCACHED

    def _with_diag(self, category: str, status: str, diag: str) -> str:
        sig = self.signatures.match(diag) if diag else None
        if sig is not None:
            return AUTH if sig.kind == "auth" else REPUTATION
        if _CATEGORIES.get(category.translate(_CATEGORY_FOLD).lower()) == POLICY:
            return POLICY
        code = _code(status) or enhanced_code(diag)
        if code:
            got = status_class(code)
            if _subject(code) in _CONCLUSIVE_SUBJECTS or got != OTHER:
                return got
        m = _PHRASE_RE.search(diag)
        return m.lastgroup if m is not None and m.lastgroup else OTHER


def _subject(code: str) -> str:
    return code.split(".", 2)[1]


def _code(status: str) -> str:
    """``status`` as a bare enhanced code: "5.1.1" stays, "smtp; 5.1.1 (x)" -> "5.1.1"."""
    if ENHANCED_RE.fullmatch(status):
        return status
    return enhanced_code(status) if status else ""


_DEFAULT: Taxonomy | None = None


def classify(category: str, status: str, diag: str) -> str:
    """Classify with the built-in signatures only; engines with operator rows hold a
    :class:`Taxonomy` of their own."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Taxonomy()
    return _DEFAULT.classify(category, status, diag)
