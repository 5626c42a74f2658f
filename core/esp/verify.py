"""Webhook signature verification for SendGrid (ECDSA), Mailgun (HMAC) and SNS (RSA).

Every check returns a :class:`Verdict` instead of raising, so the receiver maps each to a
status without a try block around secrets. Nothing here logs or echoes a key, a signature or
a token. Time comes in as ``now``: a signed timestamp further than ``window`` seconds in the
past or the future is ``STALE`` (a captured request cannot be replayed later).

SNS keeps the original ``Timestamp`` on its retries, which run for up to an hour under a
custom delivery policy, so its window defaults to 3600 s; SendGrid and Mailgun sign each
POST afresh and keep 300 s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Mapping
from enum import Enum
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from opsconsole.core.esp.base import iso_ts


class Verdict(Enum):
    OK = "ok"
    BAD_SIGNATURE = "bad-signature"  # missing, malformed or wrong
    STALE = "stale"  # signed timestamp outside the window
    FORBIDDEN = "forbidden"  # signed, but not by a sender we accept (TopicArn)
    REPLAY = "replay"  # a Mailgun token already accepted
    BUSY = "busy"  # the same token is being stored right now: retry later


def fresh(signed_at: float, now: float, window: float) -> bool:
    return abs(now - signed_at) <= window


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


# --- SendGrid -------------------------------------------------------------------------------


class SendgridVerifier:
    """ECDSA P-256/SHA-256 over ``timestamp header + raw body``; the key is the base64 DER
    SubjectPublicKeyInfo SendGrid shows. A bad key is a configuration error and raises
    ``ValueError`` here, at start-up, never per request."""

    SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
    TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"

    def __init__(self, public_key_b64: str, window: float = 300.0) -> None:
        der = _b64(public_key_b64.strip())
        if der is None:
            raise ValueError("SendGrid verification key is not base64")
        key = serialization.load_der_public_key(der)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("SendGrid verification key is not an EC public key")
        self._key = key
        self.window = window

    def verify(
        self, signature_b64: str | None, timestamp: str | None, body: bytes, now: float
    ) -> Verdict:
        sig = _b64(signature_b64)
        if sig is None or not timestamp or not (timestamp.isascii() and timestamp.isdigit()):
            return Verdict.BAD_SIGNATURE
        try:
            self._key.verify(sig, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return Verdict.BAD_SIGNATURE
        return Verdict.OK if fresh(int(timestamp), now, self.window) else Verdict.STALE


# --- Mailgun --------------------------------------------------------------------------------


class ReplayGuard:
    """Mailgun tokens seen within the window, so a signed request cannot be replayed.

    Mailgun's signature covers only ``timestamp + token``, not the event, so a captured
    signature could carry a forged body: each token is accepted once. A token is *claimed*
    while its events are stored, *committed* once stored, or *released* if storing failed
    (so the ESP's retry is accepted). Entries expire after twice the window (a timestamp
    can be that far from another and both still fresh); the map is bounded, oldest first.
    """

    def __init__(self, window: float = 300.0, max_tokens: int = 100_000) -> None:
        self.window = window
        self.max_tokens = max_tokens
        self._seen: OrderedDict[str, tuple[float, bool]] = OrderedDict()  # token -> (at, done)

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        seen = self._seen
        horizon = now - 2 * self.window
        while seen:
            token, (at, _) = next(iter(seen.items()))
            if at >= horizon and len(seen) < self.max_tokens:  # room for one more
                break
            del seen[token]

    def claim(self, token: str, now: float) -> Verdict:
        self._expire(now)
        entry = self._seen.get(token)
        if entry is not None:
            return Verdict.REPLAY if entry[1] else Verdict.BUSY
        self._seen[token] = (now, False)
        return Verdict.OK

    def commit(self, token: str) -> None:
        entry = self._seen.get(token)
        if entry is not None:
            self._seen[token] = (entry[0], True)

    def release(self, token: str) -> None:
        entry = self._seen.get(token)
        if entry is not None and not entry[1]:
            del self._seen[token]


class MailgunVerifier:
    """Hex HMAC-SHA256(signing key, timestamp + token), compared in constant time."""

    def __init__(self, signing_key: str, window: float = 300.0) -> None:
        if not signing_key:
            raise ValueError("Mailgun signing key is empty")
        self._key = signing_key.encode()
        self.window = window

    def verify(self, signature: object, now: float) -> tuple[Verdict, str]:
        """``(verdict, token)`` for the document's ``signature`` object."""
        if not isinstance(signature, dict):
            return Verdict.BAD_SIGNATURE, ""
        ts, token, sig = (signature.get(k) for k in ("timestamp", "token", "signature"))
        if isinstance(ts, int) and not isinstance(ts, bool):
            ts = str(ts)
        if not (isinstance(ts, str) and ts.isascii() and ts.isdigit() and isinstance(token, str)):
            return Verdict.BAD_SIGNATURE, ""
        if not token or not isinstance(sig, str):
            return Verdict.BAD_SIGNATURE, ""
        want = hmac.new(self._key, (ts + token).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want.encode(), sig.strip().lower().encode()):
            return Verdict.BAD_SIGNATURE, ""
        return (Verdict.OK if fresh(int(ts), now, self.window) else Verdict.STALE), token


# --- SNS ------------------------------------------------------------------------------------

_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com")
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def is_sns_url(url: object, *, pem: bool = False) -> bool:
    """``https://sns.<region>.amazonaws.com/...`` and nothing like it: no userinfo, no port,
    no upper case or trailing-dot host, no backslash games; ``pem`` also wants a ``.pem``."""
    if not isinstance(url, str) or "\\" in url or any(c <= " " for c in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or port is not None or parts.netloc != parts.hostname:
        return False
    if not _SNS_HOST.fullmatch(parts.netloc):
        return False
    return not pem or (parts.path.endswith(".pem") and not parts.query)


def canonical(doc: Mapping[str, Any]) -> bytes | None:
    """The string SNS signs: ``key\\nvalue\\n`` for the type's keys in order, ``Subject``
    only when present. None when a required key is missing or not a string."""
    mtype = doc.get("Type")
    keys = _NOTIFICATION_KEYS if mtype == "Notification" else _CONFIRMATION_KEYS
    if mtype not in ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return None
    out: list[str] = []
    for k in keys:
        v = doc.get(k)
        if v is None and k == "Subject":
            continue
        if not isinstance(v, str):
            return None
        out += (k, "\n", v, "\n")
    return "".join(out).encode()


class CertSource(Protocol):
    async def pem(self, url: str) -> bytes:
        """The PEM certificate at ``url`` (already checked by :func:`is_sns_url`)."""
        ...


class StaticCertSource:
    """Certificates known in advance, keyed by URL: tests, or an offline pinned set."""

    def __init__(self, certs: Mapping[str, bytes]) -> None:
        self._certs = dict(certs)

    async def pem(self, url: str) -> bytes:
        try:
            return self._certs[url]
        except KeyError:
            raise LookupError("no certificate for that URL") from None


def _redirect(url: str, origin: str | None) -> str:
    """Where to actually send a request for an AWS ``url``. ``origin`` is a test-only
    setting (``http://127.0.0.1:PORT``): the URL is checked first, only then re-pointed."""
    if origin is None:
        return url
    parts = urlsplit(url)
    return origin.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


class HttpCertSource:
    """Fetches SNS signing certificates with httpx (no redirects followed), caching them."""

    def __init__(
        self, client: httpx.AsyncClient, *, origin: str | None = None, max_cached: int = 64
    ) -> None:
        self._client = client
        self._origin = origin
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_cached

    async def pem(self, url: str) -> bytes:
        if not is_sns_url(url, pem=True):
            raise LookupError("certificate URL is not an SNS URL")
        hit = self._cache.get(url)
        if hit is not None:
            return hit
        resp = await self._client.get(_redirect(url, self._origin), follow_redirects=False)
        resp.raise_for_status()
        data = resp.content[:65536]
        self._cache[url] = data
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return data


class HttpConfirmer:
    """Confirms an SNS subscription by GETting its ``SubscribeURL`` (SNS host only)."""

    def __init__(self, client: httpx.AsyncClient, *, origin: str | None = None) -> None:
        self._client = client
        self._origin = origin

    async def confirm(self, url: str) -> None:
        if not is_sns_url(url):
            raise ValueError("SubscribeURL is not an SNS URL")
        resp = await self._client.get(_redirect(url, self._origin), follow_redirects=False)
        resp.raise_for_status()


class SnsVerifier:
    """SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA) over :func:`canonical`, with
    the certificate from ``certs`` (URL checked first, always), a TopicArn allow-list and
    the timestamp window. Verification is never skipped: there is no switch for it."""

    def __init__(
        self, certs: CertSource, allowed_topics: frozenset[str], window: float = 3600.0
    ) -> None:
        self._certs = certs
        self.allowed_topics = allowed_topics
        self.window = window
        self._keys: OrderedDict[str, x509.Certificate] = OrderedDict()

    async def _cert(self, url: str) -> x509.Certificate | None:
        cert = self._keys.get(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(await self._certs.pem(url))
            except Exception:  # unreachable, not PEM, unknown URL: all just "not verified"
                return None
            self._keys[url] = cert
            if len(self._keys) > 64:
                self._keys.popitem(last=False)
        return cert

    async def verify(self, doc: Mapping[str, Any], now: float) -> Verdict:
        data = canonical(doc)
        algo = _HASHES.get(str(doc.get("SignatureVersion")))
        sig = _b64(doc.get("Signature"))
        url = doc.get("SigningCertURL")
        if data is None or algo is None or sig is None or not is_sns_url(url, pem=True):
            return Verdict.BAD_SIGNATURE
        assert isinstance(url, str)  # is_sns_url checked it
        cert = await self._cert(url)
        if cert is None:
            return Verdict.BAD_SIGNATURE
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return Verdict.BAD_SIGNATURE
        if not cert.not_valid_before_utc.timestamp() <= now <= cert.not_valid_after_utc.timestamp():
            return Verdict.BAD_SIGNATURE
        try:
            key.verify(sig, data, padding.PKCS1v15(), algo())
        except (InvalidSignature, ValueError):
            return Verdict.BAD_SIGNATURE
        signed_at = iso_ts(doc.get("Timestamp"))
        if signed_at is None or not fresh(signed_at, now, self.window):
            return Verdict.STALE
        if doc.get("TopicArn") not in self.allowed_topics:
            return Verdict.FORBIDDEN
        return Verdict.OK
