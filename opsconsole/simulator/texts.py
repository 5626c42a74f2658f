"""Response texts the simulated receivers give, by provider family and outcome type."""

from __future__ import annotations

# Response texts by provider family and outcome type. {ip} is the sending IP.
# Types: hard (5.1.x), inactive (5.2.1), quota (5.2.2), spam / policy (5.7.x, soft,
# reputation), defer_rate (4.7.x throttling), defer_quota (4.2.2).
_TEXTS: dict[str, dict[str, str]] = {
    "google": {
        "ok": "250 2.0.0 OK - gsmtp",
        "hard": "550-5.1.1 The email account that you tried to reach does not exist. Please "
        "try double-checking the recipient's email address for typos or unnecessary spaces. "
        "For more information, go to https://support.google.com/mail/?p=NoSuchUser - gsmtp",
        "inactive": "550-5.2.1 The email account that you tried to reach is inactive. For more "
        "information, go to https://support.google.com/mail/?p=DisabledUser - gsmtp",
        "quota": "552-5.2.2 The recipient's inbox is out of storage space. Please direct the "
        "recipient to https://support.google.com/mail/?p=OverQuotaPerm - gsmtp",
        "spam": "550-5.7.1 [{ip}] Gmail has detected that this message is likely unsolicited "
        "mail. To reduce the amount of spam sent to Gmail, this message has been blocked. For "
        "more information, go to https://support.google.com/mail/?p=UnsolicitedMessageError "
        "- gsmtp",
        "policy": "550-5.7.26 This mail has been blocked because the sender is "
        "unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. "
        "- gsmtp",
        "defer_rate": "421-4.7.28 [{ip}] Gmail has detected an unusual rate of unsolicited "
        "mail originating from your IP address. To protect our users from spam, mail sent from "
        "your IP address has been temporarily rate limited. - gsmtp",
        "defer_quota": "452-4.2.2 The recipient's inbox is out of storage space and inbound "
        "mail cannot be delivered. Please try again later. - gsmtp",
    },
    "yahoo": {
        "ok": "250 ok dirdel",
        "hard": "554 5.1.1 delivery error: dd This user doesn't have an account - "
        "mta4012.mail.gq1.yahoo.com",
        "inactive": "554 5.2.1 delivery error: dd Requested mail action aborted, mailbox "
        "disabled - mta4012.mail.gq1.yahoo.com",
        "quota": "552 5.2.2 Mailbox over quota",
        "spam": "553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip "
        "is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        "policy": "554 5.7.9 Message not accepted for policy reasons. See "
        "https://postmaster.yahooinc.com/error-codes",
        "defer_rate": "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to "
        "unexpected volume or user complaints - 4.16.55.1; see "
        "https://postmaster.yahooinc.com/error-codes",
        "defer_quota": "452 4.2.2 Mailbox over quota, try again later",
    },
    "microsoft": {
        "ok": "250 2.6.0 Queued mail for delivery",
        "hard": "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
        "address lookup",
        "inactive": "550 5.2.1 Requested action not taken: mailbox disabled",
        "quota": "552 5.2.2 Requested mail action aborted: exceeded storage allocation",
        "spam": "550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact "
        "your Internet service provider since part of their network is on our block list "
        "(S3150). You can also refer your provider to "
        "http://mail.live.com/mail/troubleshooting.aspx#errors.",
        "policy": "550 5.7.1 Service unavailable, Client host [{ip}] blocked using Spamhaus. "
        "To request removal from this list see https://www.spamhaus.org/query/ip/{ip} (AS3130)",
        "defer_rate": "451 4.7.650 The mail server [{ip}] has been temporarily rate limited "
        "due to IP reputation. For e-mail delivery information, see https://postmaster.live.com "
        "(S775)",
        "defer_quota": "452 4.2.2 Mailbox full, try again later",
    },
    "apple": {
        "ok": "250 2.0.0 Ok: queued",
        "hard": "550 5.1.1 user does not exist",
        "inactive": "550 5.2.1 user account disabled",
        "quota": "552 5.2.2 user is over quota",
        "spam": "554 5.7.1 [CS01] Message rejected due to local policy. Please visit "
        "https://support.apple.com/en-us/HT204137",
        "policy": "550 5.7.1 [HM08] Message rejected due to local policy. Please visit "
        "https://support.apple.com/en-us/HT204137",
        "defer_rate": "421 4.7.0 [TS01] Messages from {ip} temporarily deferred due to "
        "excessive volume",
        "defer_quota": "452 4.2.2 mailbox full, try again later",
    },
    "generic": {
        "ok": "250 2.0.0 Ok: queued as 4Xz2Lq0mKpz1",
        "hard": "550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table",
        "inactive": "550 5.2.1 Recipient address rejected: mailbox disabled",
        "quota": "552 5.2.2 Mailbox full",
        "spam": "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org",
        "policy": "550 5.7.1 Message rejected due to local policy",
        "defer_rate": "421 4.7.0 Try again later, closing connection. (too many connections "
        "from {ip})",
        "defer_quota": "452 4.2.2 Mailbox full, try again later",
    },
}
_TYPES = ("hard", "inactive", "quota", "spam", "policy", "defer_rate", "defer_quota")
_HARD_TYPES = frozenset({"hard", "inactive"})

_CATEGORY = {  # PowerMTA bounceCat, KumoMTA bounce_classification
    "hard": ("bad-mailbox", "InvalidRecipient"),
    "inactive": ("inactive-mailbox", "InactiveMailbox"),
    "quota": ("quota-issues", "QuotaIssues"),
    "spam": ("spam-related", "SpamBlock"),
    "policy": ("policy-related", "PolicyRelated"),
    "defer_rate": ("policy-related", "Uncategorized"),
    "defer_quota": ("quota-issues", "Uncategorized"),
    "other": ("other", "Uncategorized"),
}
_STATUS_TEXT = {
    "5.1.1": "bad destination mailbox address",
    "5.1.10": "bad destination mailbox address",
    "5.2.1": "mailbox disabled, not accepting messages",
    "5.2.2": "mailbox full",
    "5.7.1": "delivery not authorized, message refused",
    "5.7.9": "delivery not authorized, message refused",
    "5.7.26": "delivery not authorized, message refused",
    "4.7.0": "other or undefined security status",
    "4.2.2": "mailbox full",
}


def _enhanced(diag: str) -> str:
    """ "550-5.1.1 The email..." -> "5.1.1"."""
    parts = diag[4:].split(" ", 1)[0] if len(diag) > 4 else ""
    return parts if parts[:1] in ("2", "4", "5") and parts.count(".") == 2 else ""
