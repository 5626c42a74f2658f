"""A real SMTP relay on 127.0.0.1 (aiosmtpd) for the email notifier's tests.

- :func:`make_certificates` writes a throw-away CA and a server certificate for
  ``localhost`` / ``127.0.0.1`` (generated with ``cryptography``; nothing is shipped), so
  TLS runs with verification on, trusting only that CA.
- :class:`SmtpRelay` runs aiosmtpd in its own thread in one of three modes: ``starttls``
  (STARTTLS offered and required), ``implicit`` (TLS from the first byte), ``none``. With
  ``users`` it requires AUTH (PLAIN/LOGIN, only after TLS) and checks the password.
  ``rcpt_reply``/``data_reply`` make it refuse with a chosen SMTP reply. Every accepted
  message is kept as a parsed ``EmailMessage`` along with its envelope.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class Certificates:
    ca_file: Path  # what the client trusts
    cert_file: Path
    key_file: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_certificates(folder: Path) -> Certificates:
    """A CA and a ``localhost``/``127.0.0.1`` server certificate it signed, as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("opsconsole test CA"))
        .issuer_name(_name("opsconsole test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    out = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    out.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


def free_port() -> int:
    """A port nothing listens on right now (aiosmtpd's controller needs one up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the authenticated user, if any
    helo: str  # the name the client gave in EHLO/HELO


class _Handler:
    def __init__(self, relay: SmtpRelay) -> None:
        self.relay = relay

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.relay.rcpt_reply:
            return self.relay.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.relay.data_reply:
            return self.relay.data_reply
        raw = envelope.original_content or b""
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        data: object = session.auth_data
        login = data.login.decode() if isinstance(data, LoginPassword) else None
        self.relay.delivered.append(
            Delivered(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                msg,
                login,
                str(session.host_name),
            )
        )
        return "250 Message accepted"


class SmtpRelay:
    """aiosmtpd on 127.0.0.1 in its own thread; ``with SmtpRelay(...) as relay``."""

    def __init__(
        self,
        mode: Literal["starttls", "implicit", "none"],
        certs: Certificates | None = None,
        *,
        users: dict[str, str] | None = None,
    ) -> None:
        self.mode = mode
        self.users = users or {}
        self.delivered: list[Delivered] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []  # (mechanism, login, accepted)
        self.rcpt_reply = ""
        self.data_reply = ""
        self.port = free_port()
        ctx: ssl.SSLContext | None = None
        if mode != "none":
            assert certs is not None, "TLS modes need certificates"
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(certs.cert_file, certs.key_file)
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            "server_hostname": "relay.test",
            "auth_required": bool(self.users),
            "auth_require_tls": True,
            "authenticator": self._authenticate if self.users else None,
        }
        if mode == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        elif mode == "implicit":
            kwargs.update(ssl_context=ctx)
        self.controller = Controller(_Handler(self), **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(login) == password
        self.auth_attempts.append((mechanism, login, ok))
        if not ok:  # handled=False: aiosmtpd answers 535 itself
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)

    def __enter__(self) -> SmtpRelay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
