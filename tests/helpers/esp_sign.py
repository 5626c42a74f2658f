"""Signers for test webhooks, with keys generated in the test: what SendGrid, Mailgun and
SNS do on their side, so the receiver is checked against real signatures."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from opsconsole.core.esp.verify import canonical


class SendgridSigner:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key_b64 = base64.b64encode(der).decode()

    def headers(self, body: bytes, ts: int) -> dict[str, str]:
        sig = self.key.sign(str(ts).encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(ts),
            "Content-Type": "application/json",
        }


def mailgun_doc(key: str, ts: int, token: str, event_data: dict[str, Any]) -> bytes:
    sig = hmac.new(key.encode(), f"{ts}{token}".encode(), hashlib.sha256).hexdigest()
    doc = {
        "signature": {"timestamp": str(ts), "token": token, "signature": sig},
        "event-data": event_data,
    }
    return json.dumps(doc).encode()


class SnsSigner:
    """A self-signed RSA certificate standing in for the SNS signing certificate."""

    CERT_PATH = "/SimpleNotificationService-0000test.pem"
    CERT_URL = "https://sns.us-east-1.amazonaws.com" + CERT_PATH

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        utc = dt.UTC
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=utc))
            .not_valid_after(dt.datetime(2028, 1, 1, tzinfo=utc))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, doc: dict[str, Any], version: str = "1") -> bytes:
        doc = dict(doc, SignatureVersion=version, SigningCertURL=self.CERT_URL)
        data = canonical(doc)
        assert data is not None
        algo = hashes.SHA1() if version == "1" else hashes.SHA256()
        sig = self.key.sign(data, padding.PKCS1v15(), algo)
        doc["Signature"] = base64.b64encode(sig).decode()
        return json.dumps(doc).encode()


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
