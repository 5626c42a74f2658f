"""Signature primitives: SNS URL check, canonical strings, replay guard, bad keys."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from opsconsole.core.esp.verify import (
    MailgunVerifier,
    ReplayGuard,
    SendgridVerifier,
    Verdict,
    canonical,
    is_sns_url,
)
from tests.helpers.esp_sign import SendgridSigner, mailgun_doc


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.eu-central-1.amazonaws.com/x.pem", True),
        ("https://sns.us-east-1.amazonaws.com.evil.com/x.pem", False),
        ("https://evil.com/sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://user@sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com:443/x.pem", False),
        ("https://SNS.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com./x.pem", False),
        ("http://sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com/x.pem?y=1", False),
        ("https://sns.us-east-1.amazonaws.com/x.txt", False),
        ("https://sns..amazonaws.com/x.pem", False),
        ("https://sns.us_east.amazonaws.com/x.pem", False),
    ],
)
def test_sns_cert_url_check(url: str, ok: bool) -> None:
    assert is_sns_url(url, pem=True) is ok


def test_canonical_strings_by_type() -> None:
    note = {
        "Type": "Notification",
        "MessageId": "m",
        "TopicArn": "t",
        "Message": "hi",
        "Timestamp": "2026-01-01T00:00:00.000Z",
        "Subject": "s",
        "Token": "ignored",
    }
    assert canonical(note) == (
        b"Message\nhi\nMessageId\nm\nSubject\ns\nTimestamp\n2026-01-01T00:00:00.000Z\n"
        b"TopicArn\nt\nType\nNotification\n"
    )
    del note["Subject"]
    assert canonical(note) == (
        b"Message\nhi\nMessageId\nm\nTimestamp\n2026-01-01T00:00:00.000Z\n"
        b"TopicArn\nt\nType\nNotification\n"
    )
    conf = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m",
        "TopicArn": "t",
        "Message": "x",
        "Timestamp": "T",
        "Token": "k",
        "SubscribeURL": "u",
    }
    assert canonical(conf) == (
        b"Message\nx\nMessageId\nm\nSubscribeURL\nu\nTimestamp\nT\nToken\nk\n"
        b"TopicArn\nt\nType\nSubscriptionConfirmation\n"
    )
    assert canonical({**conf, "Type": "Other"}) is None
    assert canonical({**conf, "Token": 5}) is None


def test_replay_guard_claim_commit_release_expire_and_bound() -> None:
    g = ReplayGuard(window=300, max_tokens=3)
    assert g.claim("a", 1000) is Verdict.OK
    assert g.claim("a", 1001) is Verdict.BUSY
    g.release("a")
    assert g.claim("a", 1002) is Verdict.OK
    g.commit("a")
    assert g.claim("a", 1003) is Verdict.REPLAY
    assert g.claim("a", 1002 + 601) is Verdict.OK  # expired after twice the window
    for t in "bcde":
        g.claim(t, 1700)
    assert len(g) == 3


def test_mailgun_verifier_and_sendgrid_keys() -> None:
    import json

    doc = json.loads(mailgun_doc("k", 1000, "tok", {}))
    v = MailgunVerifier("k")
    assert v.verify(doc["signature"], 1000) == (Verdict.OK, "tok")
    assert v.verify(doc["signature"], 1301) == (Verdict.STALE, "tok")
    assert v.verify({**doc["signature"], "token": "tok2"}, 1000) == (Verdict.BAD_SIGNATURE, "")
    assert v.verify("nope", 1000) == (Verdict.BAD_SIGNATURE, "")
    with pytest.raises(ValueError):
        MailgunVerifier("")
    with pytest.raises(ValueError):
        SendgridVerifier("not base64!")
    rsa_der = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = rsa_der.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="not an EC"):
        SendgridVerifier(base64.b64encode(der).decode())
    s = SendgridSigner()
    sv = SendgridVerifier(s.public_key_b64)
    h = s.headers(b"[]", 1000)
    sig, ts = (
        h["X-Twilio-Email-Event-Webhook-Signature"],
        h["X-Twilio-Email-Event-Webhook-Timestamp"],
    )
    assert sv.verify(sig, ts, b"[]", 1000) is Verdict.OK
    assert sv.verify(sig, ts, b"[] ", 1000) is Verdict.BAD_SIGNATURE
    assert sv.verify(sig, "-1000", b"[]", 1000) is Verdict.BAD_SIGNATURE
    assert sv.verify("%%%", ts, b"[]", 1000) is Verdict.BAD_SIGNATURE
