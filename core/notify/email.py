"""Email notices over SMTP: one message per notice, plain text and HTML, sent with aiosmtplib.

Why these choices:

- A new SMTP session per notice. Notices are rare and the dispatcher sends one notifier's
  rows one at a time; a pooled session would only add half-dead-connection handling.
- TLS verification is on unless a test turns it off: a relay reached over an unverified
  channel would get the password. ``tls="none"`` refuses a password outright, for the same
  reason (use it for a local relay on 127.0.0.1 that needs no login).
- The ``Message-ID`` is derived from the stored body, so a retried row (same body) carries
  the same id and the receiving side can drop the duplicate of an at-least-once send.
- Alert text comes from MTA log lines (remote servers' diagnostics): the HTML part escapes
  every value, and the subject is folded onto one line so nothing can add a header.
- SMTP error classes: 4xx replies, timeouts and refused connections are retryable; 5xx
  replies (auth 535 included) are not: the same message and login will be refused again.
  Error text is scrubbed of the password (and of the base64 forms AUTH would put on the
  wire) before it leaves this module.
"""

from __future__ import annotations

import asyncio
import base64
import html
import re
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Literal

import aiosmtplib

from opsconsole.core.notify.common import (
    NotifierBase,
    NotifierConfig,
    epoch,
    one_line,
    scrub_secrets,
    tag,
)
from opsconsole.core.notify.sender import DeliveryError

TlsMode = Literal["starttls", "implicit", "none"]
_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "implicit": 465, "none": 25}
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_FIELDS = (
    ("Rule", "rule"),
    ("IP", "ip"),
    ("Subuser", "subuser"),
    ("Pool", "pool"),
    ("Provider", "provider"),
    ("Value", "value"),
    ("Sent", "sent"),
    ("State", "state"),
    ("Alert", "alert_id"),
    ("Host", "host"),
    ("Time", "timestamp"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailConfig(NotifierConfig):
    """``[[notify]] kind = "email"``. ``sender`` is the ``From`` address (``from`` is a Python
    keyword; the settings layer maps it). ``port`` 0 means the usual port for ``tls``.

    ``ca_file`` and ``tls_verify`` exist for tests that run a relay with a throw-away
    certificate; production leaves them alone and gets the system trust store.
    """

    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 0
    tls: TlsMode = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str | None = None
    tls_verify: bool = True
    message_id_domain: str = ""  # default: the domain of ``sender``
    local_hostname: str = ""  # the EHLO name; default: this host's FQDN (socket.getfqdn)

    def __post_init__(self) -> None:
        NotifierConfig.__post_init__(self)
        if self.tls not in _DEFAULT_PORTS:
            raise ValueError(f"{self.name}: tls must be starttls, implicit or none")
        if not self.to:
            raise ValueError(f"{self.name}: no recipients in 'to'")
        if self.tls == "none" and self.password:
            raise ValueError(f"{self.name}: refusing to send a password without TLS")
        if not parseaddr(self.sender)[1]:
            raise ValueError(f"{self.name}: 'from' is not an address")

    @property
    def effective_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.tls]


def subject(body: Mapping[str, Any]) -> str:
    """``[CRITICAL] title`` / ``[RESOLVED] title``, on one line."""
    title = one_line(body.get("title") or body.get("rule") or "alert", 200)
    return f"[{tag(body)}] {title}"


def message_id(body: Mapping[str, Any], domain: str) -> str:
    """``<id@domain>`` from the body's ``notice_id``; without one, from alert id, transition
    (or state) and the stored timestamp, which are fixed once the row is written, so every
    retry of one row has one id while a second "rose" of the same alert gets its own."""
    notice = body.get("notice_id")
    if notice:
        local = str(notice)
    else:
        step = body.get("transition") or body.get("state") or "notice"
        stamp = epoch(body.get("timestamp"))
        local = f"{body.get('alert_id', 'alert')}.{step}" + (
            f".{int(stamp * 1000)}" if stamp is not None else ""
        )
    local = _ID_UNSAFE.sub("-", local).strip(".-") or "notice"
    return f"<{local}@{domain or 'opsconsole.invalid'}>"


def _rows(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for label, key in _FIELDS:
        value = body.get(key)
        if value is None or value == "":
            continue
        if key == "value" and isinstance(value, int | float):
            value = f"{value * 100:.2f}%"
        yield label, str(value)
    ids = body.get("alert_ids")
    if isinstance(ids, list) and ids:
        yield "Alerts", ", ".join(str(i) for i in ids)


def plain_text(body: Mapping[str, Any]) -> str:
    """The text/plain part: subject line, message, then one ``Label: value`` per field."""
    lines = [subject(body), "", str(body.get("message") or ""), ""]
    lines += [f"{label}: {value}" for label, value in _rows(body)]
    return "\n".join(lines) + "\n"


def html_text(body: Mapping[str, Any]) -> str:
    """The text/html part: every value escaped (alert text is remote servers' words)."""

    def e(text: object) -> str:
        return html.escape(str(text), quote=True)

    message = e(body.get("message") or "").replace("\n", "<br>\n")
    rows = "\n".join(
        f'<tr><th align="left">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in _rows(body)
    )
    return (
        "<!DOCTYPE html>\n<html><body>\n"
        f"<h2>{e(subject(body))}</h2>\n<p>{message}</p>\n<table>\n{rows}\n</table>\n"
        "</body></html>\n"
    )


def build_message(config: EmailConfig, body: Mapping[str, Any]) -> EmailMessage:
    """The whole message for one notice. ``Date`` is the notice's own time, not the send
    time, so a retry is byte-for-byte the same message."""
    msg = EmailMessage()
    msg["Subject"] = subject(body)
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    domain = config.message_id_domain or parseaddr(config.sender)[1].rpartition("@")[2]
    msg["Message-ID"] = message_id(body, domain)
    stamp = epoch(body.get("timestamp"))
    if stamp is not None:
        msg["Date"] = formatdate(stamp, usegmt=True)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to alerts
    msg["X-Opsconsole-Alert"] = one_line(body.get("alert_id") or "", 200)
    msg.set_content(plain_text(body))
    msg.add_alternative(html_text(body), subtype="html")
    return msg


def tls_context(config: EmailConfig) -> ssl.SSLContext:
    """Verifying context (system store, or ``ca_file``); unverified only if asked."""
    ctx = ssl.create_default_context(cafile=config.ca_file)
    if not config.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class EmailNotifier(NotifierBase):
    """Sends each notice as one email to every address in ``to``."""

    kind = "email"

    config: EmailConfig

    def __init__(self, config: EmailConfig) -> None:
        super().__init__(config, f"smtp://{config.host}:{config.effective_port}")
        # Recipients the relay refused on the last send that others accepted (address ->
        # SMTP code): a success for the outbox, worth a look by the operator.
        self.last_refused: dict[str, int] = {}

    def _secrets(self) -> list[str]:
        """The password and what AUTH PLAIN / LOGIN would put on the wire for it."""
        c = self.config
        if not c.password:
            return []
        plain = f"\0{c.username}\0{c.password}".encode()
        return [
            c.password,
            base64.b64encode(plain).decode(),
            base64.b64encode(c.password.encode()).decode(),
        ]

    def _fail(self, what: str, retryable: bool) -> DeliveryError:
        return DeliveryError(scrub_secrets(f"{self.endpoint}: {what}", self._secrets()), retryable)

    async def send(self, body: Mapping[str, Any]) -> None:
        c = self.config
        self.last_refused = {}
        message = build_message(c, body)
        smtp = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.effective_port,
            use_tls=c.tls == "implicit",
            start_tls=c.tls == "starttls",
            tls_context=tls_context(c) if c.tls != "none" else None,
            username=c.username or None,
            password=c.password or None,
            timeout=c.timeout,
            local_hostname=c.local_hostname or None,
        )
        try:
            async with asyncio.timeout(c.timeout):
                async with smtp:
                    refused, _reply = await smtp.send_message(message)
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            raise self._fail(f"timed out after {c.timeout:g}s", True) from None
        except aiosmtplib.SMTPRecipientsRefused as e:
            codes = [r.code for r in e.recipients]
            detail = "; ".join(
                f"{r.recipient}: {r.code} {one_line(r.message)}" for r in e.recipients
            )
            raise self._fail(
                f"all recipients refused: {detail}", any(400 <= x < 500 for x in codes)
            ) from None
        except aiosmtplib.SMTPResponseException as e:
            what = (
                "login refused" if isinstance(e, aiosmtplib.SMTPAuthenticationError) else "refused"
            )
            raise self._fail(
                f"{what}: {e.code} {one_line(e.message)}", 400 <= e.code < 500
            ) from None
        except (aiosmtplib.SMTPException, OSError) as e:
            # Connection refused or reset, TLS handshake failure, server hung up: the relay
            # may be back later (a certificate problem will keep failing, and say so).
            what = one_line(str(e) or type(e).__name__)
            raise self._fail(f"{type(e).__name__}: {what}", True) from None
        if refused:
            # Some recipients took it: retrying would mail them twice, so this is a success.
            self.last_refused = {k: v.code for k, v in refused.items()}


__all__ = [
    "EmailConfig",
    "EmailNotifier",
    "build_message",
    "html_text",
    "message_id",
    "plain_text",
    "subject",
    "tls_context",
]
