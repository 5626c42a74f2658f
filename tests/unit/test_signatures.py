"""Provider response signatures and the window counter.

The response lines are written in the shape the providers' postmaster pages publish, with
documentation addresses (203.0.113.0/24).
"""

from __future__ import annotations

import pytest

from opsconsole.core.signatures import (
    BUILTIN,
    SIGNATURES_VERSION,
    Signature,
    SignatureCounts,
    SignatureSet,
    literal_trigger,
    signatures_from_config,
)

IP = "203.0.113.4"

# One realistic reply per built-in signature id: every id must be covered.
SAMPLES: dict[str, str] = {
    "yahoo.ts01": f"421 4.7.0 [TS01] Messages from {IP} temporarily deferred due to user "
    "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    "yahoo.ts02": f"421 4.7.0 [TS02] Messages from {IP} temporarily deferred due to unexpected "
    "volume or user complaints - 4.16.56.1; see https://postmaster.yahooinc.com/error-codes",
    "yahoo.ts03": f"421 4.7.0 [TS03] All messages from {IP} will be permanently deferred; "
    "Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
    "yahoo.ts04": f"421 4.7.0 [TS04] Messages from {IP} temporarily deferred due to unexpected "
    "volume or user complaints; see https://postmaster.yahooinc.com/error-codes",
    "yahoo.tss04": f"421 4.7.0 [TSS04] Messages from {IP} temporarily deferred due to "
    "unexpected volume or user complaints - 4.16.55.1; see "
    "https://postmaster.yahooinc.com/error-codes",
    "yahoo.bl": f"553 5.7.1 [BL21] Connections will not be accepted from {IP}, because the ip "
    "is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    "google.rate_limited": f"421-4.7.28 [{IP} 15] Our system has detected an unusual rate of "
    "421-4.7.28 unsolicited mail originating from your IP address. To protect our users from "
    "421-4.7.28 spam, mail sent from your IP address has been temporarily rate limited. "
    "421 4.7.28 https://support.google.com/mail/?p=UnsolicitedRateLimitError a1si2 - gsmtp",
    "google.suspicious": "421-4.7.0 This message is suspicious due to the very low reputation of "
    "the sending IP address. 421 4.7.0 https://support.google.com/mail/answer/188131 x2 - gsmtp",
    "google.unsolicited": f"550-5.7.1 [{IP}] Our system has detected that this message is "
    "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, this "
    "550-5.7.1 message has been blocked. 550 5.7.1 https://support.google.com/mail/?p="
    "UnsolicitedMessageError b3si4 - gsmtp",
    "google.low_reputation": "550-5.7.1 This message is likely suspicious due to the very low "
    "reputation of the sending domain. 550 5.7.1 https://support.google.com/mail/answer/188131",
    "google.unauthenticated": "550-5.7.26 This mail has been blocked because the sender is "
    "unauthenticated. 550-5.7.26 Gmail requires all senders to authenticate with either SPF "
    "or DKIM. 550 5.7.26 https://support.google.com/mail/answer/81126 c5si6 - gsmtp",
    "microsoft.s3150": f"550 5.7.1 Unfortunately, messages from [{IP}] weren't sent. Please "
    "contact your Internet service provider since part of their network is on our block list "
    "(S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx"
    "#errors. [AM0EUR02FT012.eop-EUR02.prod.protection.outlook.com]",
    "microsoft.s3140": f"550 5.7.1 Unfortunately, messages from [{IP}] weren't sent. Please "
    "contact your Internet service provider since part of their network is on our block list "
    "(S3140). [VI1EUR04FT031.eop-eur04.prod.protection.outlook.com]",
    "microsoft.5_7_606": f"550 5.7.606 Access denied, banned sending IP [{IP}]. To request "
    "removal from this list please visit https://sender.office.com/ and follow the directions.",
    "microsoft.5_7_511": f"550 5.7.511 Access denied, banned sender[{IP}]. To request removal "
    "from this list please forward this message to delist@messaging.microsoft.com.",
    "microsoft.5_7_708": "550 5.7.708 Service unavailable. Access denied, traffic not accepted "
    "from this IP.",
    "microsoft.4_7_650": f"451 4.7.650 The mail server [{IP}] has been temporarily rate limited "
    "due to IP reputation.",
    "microsoft.4_7_651": f"451 4.7.651 The mail server [{IP}] has been temporarily rate limited "
    "due to IP reputation.",
    "microsoft.4_7_500": f"451 4.7.500 Server busy. Please try again later from [{IP}]. (S77714)",
    "apple.cs01": "554 5.7.1 [CS01] Message rejected due to local policy. Please visit "
    "https://support.apple.com/en-us/HT204137",
    "apple.cs02": "421 4.7.0 [CS02] Message rejected due to local policy. Please visit "
    "https://support.apple.com/en-us/HT204137",
    "apple.hm08": "550 5.7.1 [HM08] Message rejected due to local policy. Please visit "
    "https://support.apple.com/en-us/HT204137",
    "comcast.rl": f"421 resimta-po-12v.sys.comcast.net resimta-po-12v.sys.comcast.net {IP} "
    "Rate limit exceeded. Please see https://postmaster.comcast.net/smtp-error-codes.php#RL000001",
    "comcast.bl": f"554 resimta-ch2-04v.sys.comcast.net resimta-ch2-04v.sys.comcast.net "
    f"Comcast block for spam. Please see https://postmaster.comcast.net/smtp-error-codes.php"
    f"#BL000000 {IP}",
    "orange.ofr004": "550 5.7.1 Service refuse. Veuillez essayer plus tard. Service refused, "
    "please try later. OFR004_104 [104]",
    "orange.ofr999": "421 mwinf5c21 ME Service refuse. Veuillez essayer plus tard. Service "
    "refused, please try later. OFR_999 [999]",
    "gmx.reputation": "554-gmx.net (mxgmx017) Nemesis ESMTP Service not available 554-No SMTP "
    f"service 554-IP address is block listed. 554 For explanation visit "
    f"https://postmaster.gmx.net/en/case?c=r0301&i=ip&v={IP}",
    "yandex.spam": "554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc "
    "1701234567-abcDEF12",
    "mailru.spam": "550 spam message rejected. Please visit "
    "http://help.mail.ru/notspam-support/id?c=abcdef or report details to abuse@corp.mail.ru.",
    "any.spamhaus": f"554 5.7.1 Service unavailable; Client host [{IP}] blocked using "
    f"zen.spamhaus.org; https://www.spamhaus.org/query/ip/{IP}",
    "any.barracuda": f"554 Service unavailable; Client host [{IP}] blocked using Barracuda "
    f"Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip={IP}",
    "any.spamcop": f"550 5.7.1 Service unavailable; Client host [{IP}] blocked using "
    f"bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?{IP}",
    "any.dnsbl": f"550 5.7.1 Mail from {IP} refused: listed at b.example-dnsbl.org",
    "any.auth": "550 5.7.23 The message was rejected because of Sender Policy Framework violation",
}


def test_every_builtin_signature_has_a_sample() -> None:
    assert {s.id for s in BUILTIN} == set(SAMPLES)
    assert len({s.id for s in BUILTIN}) == len(BUILTIN)


@pytest.mark.parametrize("sig_id", sorted(SAMPLES))
def test_builtin_signature_matches_its_sample(sig_id: str) -> None:
    got = SignatureSet().match(SAMPLES[sig_id])
    assert got is not None
    assert got.id == sig_id


@pytest.mark.parametrize(
    ("sig_id", "provider", "kind"),
    [
        ("yahoo.ts01", "yahoo", "throttle"),
        ("yahoo.ts02", "yahoo", "throttle"),
        ("yahoo.ts03", "yahoo", "block"),
        ("google.rate_limited", "google", "throttle"),
        ("google.unsolicited", "google", "block"),
        ("google.unauthenticated", "google", "auth"),
        ("microsoft.s3150", "microsoft", "block"),
        ("microsoft.4_7_650", "microsoft", "throttle"),
        ("comcast.rl", "comcast", "throttle"),
        ("comcast.bl", "comcast", "block"),
        ("any.spamhaus", "any", "blocklist"),
        ("any.auth", "any", "auth"),
    ],
)
def test_signature_fields(sig_id: str, provider: str, kind: str) -> None:
    s = SignatureSet().by_id(sig_id)
    assert s is not None
    assert (s.provider, s.kind) == (provider, kind)
    assert s.meaning


@pytest.mark.parametrize(
    "diag",
    [
        "",
        "250 2.0.0 OK 1701234567 a1si2345678qkb.12 - gsmtp",
        "250 2.6.0 <id@example.com> [InternalId=123] Queued mail for delivery",
        "550 5.1.1 user unknown",
        "550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "550-5.1.1 double-checking the recipient's email address for typos. 550 5.1.1 "
        "https://support.google.com/mail/?p=NoSuchUser a1si2 - gsmtp",
        "552 5.2.2 The email account that you tried to reach is over quota.",
        "550 5.1.1 User unknown; not listed in Domino Directory",
        "451 4.4.1 Connection timed out",
        "550 5.7.1 Relaying denied",
        "421 4.7.0 Try again later, closing connection. (EHLO) - gsmtp",
        "550 5.7.1 Unfortunately, messages from 203.0.113.4 were not sent because of S31500",
    ],
)
def test_negatives_match_nothing(diag: str) -> None:
    assert SignatureSet().match(diag) is None


def test_first_row_wins_over_leftmost_text() -> None:
    # The Spamhaus word comes first in the text, but the Yahoo row comes first in order.
    diag = "553 5.7.1 Spamhaus listed: [BL21] Connections will not be accepted from 203.0.113.4"
    got = SignatureSet().match(diag)
    assert got is not None and got.id == "yahoo.bl"


def test_case_insensitive() -> None:
    got = SignatureSet().match("421 4.7.0 [ts03] all messages from 203.0.113.4 ...")
    assert got is not None and got.id == "yahoo.ts03"


def test_operator_rows() -> None:
    rows = [
        {
            "id": "acme.block",
            "provider": "Acme",
            "kind": "block",
            "pattern": r"ACME-BLK-\d+",
            "meaning": "Acme blocked the IP",
        },
        {"id": "any.spamhaus", "kind": "throttle", "pattern": r"(?i)spamhaus pbl"},
        {"id": "gmx.bounce_limit", "provider": "gmx", "kind": "throttle", "pattern": "(?P<n>x)y"},
    ]
    sigs = signatures_from_config(rows)
    assert sigs[0] == Signature(
        "acme.block", "acme", "block", r"ACME-BLK-\d+", "Acme blocked the IP", ("acme-blk-",)
    )
    assert sigs[1].provider == "any" and sigs[1].meaning == "any.spamhaus"
    s = SignatureSet(sigs)
    got = s.match("550 5.7.1 rejected ACME-BLK-42 see https://acme.example")
    assert got is not None and got.id == "acme.block"
    # Same id as a built-in: the operator's row replaces it.
    got = s.match("554 blocked using Spamhaus PBL")
    assert got is not None and (got.id, got.kind) == ("any.spamhaus", "throttle")
    got = s.match("554 blocked using zen.spamhaus.org")
    assert got is not None and got.id == "any.dnsbl"  # the built-in spamhaus row was replaced
    # Operator rows come first: an operator row refines a built-in match.
    got = s.match("421 4.7.0 xy [TS03]")
    assert got is not None and got.id == "gmx.bounce_limit"
    assert s.match("250 2.0.0 OK") is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "x", "kind": "nope", "pattern": "a"}, "kind"),
        ({"id": "x", "kind": "block", "pattern": "("}, "bad pattern"),
        ({"id": "x", "kind": "block"}, "missing 'pattern'"),
        ({"id": "", "kind": "block", "pattern": "a"}, "id"),
    ],
)
def test_bad_operator_rows(row: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        signatures_from_config([row])


def test_duplicate_operator_ids() -> None:
    a = Signature("a", "any", "block", "x", "m")
    with pytest.raises(ValueError, match="duplicate"):
        SignatureSet([a, a])
    with pytest.raises(ValueError, match="lower case"):
        Signature("b", "any", "block", "x", "m", ("ACME",))


@pytest.mark.parametrize(
    ("pattern", "trigger"),
    [
        (r"\bACME-BLK-\d+", ("acme-blk-",)),
        (r"(?i)acme\.x", ("acme.x",)),
        (r"\[zz01\]", ("[zz01]",)),
        (r"abcd*", ("abc",)),
        (r"abc+", ("abc",)),
        (r"ab*", ()),
        (r"xy\d", ()),
        (r"a|bcd", ()),
        (r"(?x)a b c", ()),
        (r"(?:foo)bar", ()),
    ],
)
def test_literal_trigger(pattern: str, trigger: tuple[str, ...]) -> None:
    assert literal_trigger(pattern) == trigger


def test_operator_row_without_literal_start_is_tried_on_every_reply() -> None:
    rows = [{"id": "acme.odd", "kind": "block", "pattern": r"(?:foo|bar)-blocked-\d"}]
    s = SignatureSet(signatures_from_config(rows))
    got = s.match("550 sorry bar-blocked-7")
    assert got is not None and got.id == "acme.odd"
    assert s.match("550 5.1.1 user unknown") is None


def test_operator_trigger_key_gates_the_row() -> None:
    rows = [{"id": "acme.t", "kind": "throttle", "pattern": r"slow\s+down", "trigger": "Acme"}]
    (sig,) = signatures_from_config(rows)
    assert sig.triggers == ("acme",)
    s = SignatureSet([sig])
    assert s.match("421 slow down please") is None  # no "acme" in the reply
    got = s.match("421 acme.example says: slow   down please")
    assert got is not None and got.id == "acme.t"


def test_builtin_triggers_gate_rows() -> None:
    # A Comcast-shaped code from someone else is not a Comcast block.
    assert SignatureSet().match("554 rejected, reference BL000000") is None
    got = SignatureSet().match("554 comcast.net rejected, reference BL000000")
    assert got is not None and got.id == "comcast.bl"


def test_every_builtin_trigger_occurs_in_its_sample() -> None:
    for sig in BUILTIN:
        assert sig.triggers, sig.id
        assert any(t in SAMPLES[sig.id].lower() for t in sig.triggers), sig.id


def test_empty_set() -> None:
    assert SignatureSet(builtin=False).match(SAMPLES["yahoo.ts03"]) is None


def test_version() -> None:
    assert SIGNATURES_VERSION == "2026.12"


# --- SignatureCounts ---------------------------------------------------------------------


def test_threshold_reached_once_per_episode() -> None:
    c = SignatureCounts(threshold=3, window=3600.0)
    t0 = 1_767_225_600.0
    got = [c.observe(IP, "yahoo", "yahoo.ts03", t0 + i, t0 + i) for i in range(6)]
    assert got == [False, False, True, False, False, False]
    assert c.count(IP, "yahoo", "yahoo.ts03", t0 + 5) == 3


def test_keys_are_separate() -> None:
    c = SignatureCounts(threshold=2, window=60.0)
    assert not c.observe(IP, "yahoo", "yahoo.ts03", 0.0, 0.0)
    assert not c.observe(IP, "google", "yahoo.ts03", 1.0, 1.0)
    assert not c.observe("203.0.113.5", "yahoo", "yahoo.ts03", 2.0, 2.0)
    assert not c.observe(IP, "yahoo", "yahoo.ts01", 3.0, 3.0)
    assert c.observe(IP, "yahoo", "yahoo.ts03", 4.0, 4.0)


def test_window_slides_and_rearms() -> None:
    c = SignatureCounts(threshold=2, window=100.0)
    assert not c.observe(IP, "p", "s", 0.0, 0.0)
    assert c.observe(IP, "p", "s", 50.0, 50.0)
    assert not c.observe(IP, "p", "s", 120.0, 120.0)  # 50 and 120 in window: still >= 2
    # At 260 nothing is left in (160, 260]: the count fell below, so it can fire again.
    assert not c.observe(IP, "p", "s", 260.0, 260.0)
    assert c.observe(IP, "p", "s", 261.0, 261.0)


def test_threshold_one_fires_after_a_quiet_window() -> None:
    c = SignatureCounts(threshold=1, window=10.0)
    assert c.observe(IP, "p", "s", 0.0, 0.0)
    assert not c.observe(IP, "p", "s", 5.0, 5.0)
    assert c.observe(IP, "p", "s", 30.0, 30.0)


def test_old_and_out_of_order_observations() -> None:
    c = SignatureCounts(threshold=3, window=100.0)
    assert not c.observe(IP, "p", "s", 0.0, 500.0)  # before the window: ignored
    assert c.count(IP, "p", "s", 500.0) == 0
    assert not c.observe(IP, "p", "s", 480.0, 500.0)
    assert not c.observe(IP, "p", "s", 420.0, 500.0)
    assert c.observe(IP, "p", "s", 450.0, 500.0)
    assert c.count(IP, "p", "s", 500.0) == 3
    assert c.count(IP, "p", "s", 530.0) == 2  # 420 has left (430, 530]


def test_memory_is_bounded() -> None:
    c = SignatureCounts(threshold=5, window=10.0, max_keys=16)
    for i in range(1000):
        c.observe(f"10.0.{i // 256}.{i % 256}", "p", "s", float(i), float(i))
        assert len(c) <= 16
    for _ in range(50):
        c.observe(IP, "p", "s", 2000.0, 2000.0)
    assert len(c._keys[(IP, "p", "s")].times) == 5
    n = len(c)
    assert c.prune(5000.0) == n
    assert len(c) == 0


def test_bad_counter_config() -> None:
    with pytest.raises(ValueError):
        SignatureCounts(threshold=0, window=10.0)
    with pytest.raises(ValueError):
        SignatureCounts(threshold=1, window=0.0)
