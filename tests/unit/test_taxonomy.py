"""One bounce taxonomy: source categories, RFC 3463 codes, signatures, precedence."""

from __future__ import annotations

import pytest

from opsconsole.core.signatures import SignatureSet, signatures_from_config
from opsconsole.core.taxonomy import (
    AUTH,
    CLASSES,
    CONTENT,
    INVALID_RECIPIENT,
    LABELS,
    OTHER,
    POLICY,
    QUOTA,
    REPUTATION,
    ROUTING,
    Taxonomy,
    classify,
    status_class,
)

S3150 = (
    "550 5.7.1 Unfortunately, messages from [203.0.113.4] weren't sent. Please contact your "
    "Internet service provider since part of their network is on our block list (S3150)."
)
GMAIL_SPAM = (
    "550-5.7.1 [203.0.113.4] Our system has detected that this message is likely unsolicited "
    "mail. To reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp"
)
TSS04 = (
    "421 4.7.0 [TSS04] Messages from 203.0.113.4 temporarily deferred due to unexpected volume "
    "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"
)
DMARC = "550-5.7.26 This mail has been blocked because the sender is unauthenticated. - gsmtp"


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        # PowerMTA bounceCat, every documented value
        ("bad-mailbox", INVALID_RECIPIENT),
        ("bad-domain", INVALID_RECIPIENT),
        ("inactive-mailbox", INVALID_RECIPIENT),
        ("quota-issues", QUOTA),
        ("spam-related", REPUTATION),
        ("policy-related", POLICY),
        ("content-related", CONTENT),
        ("routing-errors", ROUTING),
        ("relaying-issues", ROUTING),
        ("no-answer-from-host", ROUTING),
        ("message-expired", ROUTING),
        ("invalid-sender", POLICY),
        ("bad-configuration", ROUTING),
        ("bad-connection", ROUTING),
        ("protocol-errors", ROUTING),
        ("virus-related", CONTENT),
        ("other", OTHER),
        # KumoMTA bounce_classification
        ("InvalidRecipient", INVALID_RECIPIENT),
        ("BadDomain", INVALID_RECIPIENT),
        ("InactiveMailbox", INVALID_RECIPIENT),
        ("QuotaIssues", QUOTA),
        ("SpamBlock", REPUTATION),
        ("SpamContent", CONTENT),
        ("PolicyRelated", POLICY),
        ("VirusRelated", CONTENT),
        ("ContentRelated", CONTENT),
        ("AuthenticationFailed", AUTH),
        ("BadConnection", ROUTING),
        ("RoutingErrors", ROUTING),
        ("MessageExpired", ROUTING),
        ("NoAnswerFromHost", ROUTING),
        ("RelayingIssues", ROUTING),
        ("ProtocolErrors", ROUTING),
        ("BadConfiguration", ROUTING),
        ("InvalidSender", POLICY),
        ("DNSFailure", ROUTING),
        ("Uncategorized", OTHER),
        # SendGrid bounce_classification
        ("Invalid Address", INVALID_RECIPIENT),
        ("Reputation", REPUTATION),
        ("Content", CONTENT),
        ("Frequency or Volume Too High", REPUTATION),
        ("Mailbox Unavailable", QUOTA),
        ("Technical", ROUTING),
        ("Unclassified", OTHER),
        # nothing at all
        ("", OTHER),
        ("something-new", OTHER),
    ],
)
def test_category_alone(category: str, expected: str) -> None:
    assert classify(category, "", "") == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("5.1.1", INVALID_RECIPIENT),
        ("5.1.2", INVALID_RECIPIENT),
        ("5.1.10", INVALID_RECIPIENT),
        ("5.1.8", POLICY),
        ("5.2.1", INVALID_RECIPIENT),
        ("5.2.2", QUOTA),
        ("4.2.2", QUOTA),
        ("5.2.3", CONTENT),
        ("5.3.4", CONTENT),
        ("4.3.1", QUOTA),
        ("4.3.2", ROUTING),
        ("4.4.1", ROUTING),
        ("4.4.7", ROUTING),
        ("5.4.4", ROUTING),
        ("5.5.1", ROUTING),
        ("5.6.0", CONTENT),
        ("5.7.1", POLICY),
        ("4.7.0", POLICY),
        ("5.7.13", INVALID_RECIPIENT),
        ("5.7.23", AUTH),
        ("5.7.26", AUTH),
        ("5.7.28", REPUTATION),
        ("5.0.0", OTHER),
        ("2.0.0", OTHER),
        ("", OTHER),
        ("smtp; 5.1.1 (user unknown)", INVALID_RECIPIENT),
    ],
)
def test_status_alone(status: str, expected: str) -> None:
    assert classify("", status, "") == expected


def test_status_class_helper() -> None:
    assert status_class("5.2.2") == QUOTA
    assert status_class("nonsense") == OTHER


@pytest.mark.parametrize(
    ("category", "status", "diag", "expected"),
    [
        # A signature beats a generic status code.
        ("", "5.7.1", S3150, REPUTATION),
        ("", "5.7.1", GMAIL_SPAM, REPUTATION),
        ("", "4.7.0", TSS04, REPUTATION),
        (
            "",
            "5.0.0",
            "554 Service unavailable; Client host [203.0.113.4] blocked using zen.spamhaus.org",
            REPUTATION,
        ),
        (
            "",
            "4.4.2",
            "421 4.7.0 [TS03] All messages from 203.0.113.4 will be permanently deferred",
            REPUTATION,
        ),
        ("", "5.7.26", DMARC, AUTH),
        # Without a signature, 5.7.1 is policy.
        ("", "5.7.1", "550 5.7.1 Relaying denied", POLICY),
        # A definite category wins over the text...
        ("bad-mailbox", "5.7.1", S3150, INVALID_RECIPIENT),
        ("quota-issues", "", GMAIL_SPAM, QUOTA),
        ("SpamContent", "5.7.1", S3150, CONTENT),
        # ...but a mere "policy" category is refined by a block signature.
        ("policy-related", "5.7.1", S3150, REPUTATION),
        ("PolicyRelated", "5.7.26", DMARC, AUTH),
        ("policy-related", "5.7.1", "550 5.7.1 Relaying denied", POLICY),
        ("policy-related", "5.1.1", "550 5.1.1 user unknown", POLICY),
        # A conclusive status code beats the text; the text fills in a missing status.
        (
            "",
            "5.1.1",
            "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown",
            INVALID_RECIPIENT,
        ),
        ("", "", "host mx.example.com said: 552 5.2.2 Mailbox full", QUOTA),
        ("Uncategorized", "", "550 5.1.1 user unknown", INVALID_RECIPIENT),
        # Phrases when there is no code at all.
        ("", "", "550 No such user here", INVALID_RECIPIENT),
        ("", "", "Connection timed out", ROUTING),
        ("", "", "452 Mailbox is full", QUOTA),
        ("", "", "550 mail rejected", OTHER),
        # Delivered replies are never reputation.
        ("", "2.0.0", "250 2.0.0 OK 1701234567 a1si2 - gsmtp", OTHER),
    ],
)
def test_precedence(category: str, status: str, diag: str, expected: str) -> None:
    assert classify(category, status, diag) == expected


def test_cache_keeps_diag_dependent_answers_apart() -> None:
    t = Taxonomy()
    assert t.classify("", "5.7.1", S3150) == REPUTATION
    assert t.classify("", "5.7.1", "550 5.7.1 Relaying denied") == POLICY
    assert t.classify("", "5.7.1", S3150) == REPUTATION
    assert t.classify("bad-mailbox", "", "") == INVALID_RECIPIENT
    assert t.classify("bad-mailbox", "", S3150) == INVALID_RECIPIENT


def test_cache_is_bounded() -> None:
    t = Taxonomy()
    for i in range(3000):
        assert t.classify(f"cat{i}", "5.1.1", "") == INVALID_RECIPIENT
    assert len(t._cache) <= 1024


def test_operator_signatures() -> None:
    rows = [{"id": "acme.block", "provider": "acme", "kind": "block", "pattern": r"ACME-BLK-\d+"}]
    t = Taxonomy(SignatureSet(signatures_from_config(rows)))
    assert t.classify("", "5.7.1", "550 5.7.1 ACME-BLK-7 go away") == REPUTATION
    assert classify("", "5.7.1", "550 5.7.1 ACME-BLK-7 go away") == POLICY  # built-ins only


def test_labels_cover_every_class() -> None:
    assert set(LABELS) == set(CLASSES)
    assert LABELS[INVALID_RECIPIENT] == "invalid recipient"
    assert LABELS[REPUTATION] == "reputation/block"
    assert len(set(CLASSES)) == 8
