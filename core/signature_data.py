"""Built-in provider response signatures: data only, read by :mod:`opsconsole.core.signatures`.

Each row is (id, provider, kind, pattern, meaning, triggers). Patterns are matched
case-insensitively with ``.`` matching newlines (multi-line replies are often joined). A row is
tried only when one of its triggers (lower-case literals) occurs in the lower-cased reply, so a
trigger may also narrow a row (Comcast's ``BL000000`` counts only in a reply naming Comcast).
Order matters: the first matching row wins, so provider-specific rows come before the generic
``any`` rows. Ids are stable: alerts and audits store them.
"""

from __future__ import annotations

# Cheap-reject needles: a reply containing none of them matches no built-in row. Every row's
# triggers contain one of these (checked when a SignatureSet is built; others are added).
COARSE_NEEDLES: tuple[str, ...] = (
    "[",
    ".7.",
    "spam",
    "listed",
    "rbl",
    "dnsbl",
    "barracuda",
    "blocked using",
    "comcast",
    "ofr",
    "gmx",
    "web.de",
    "s31",
)

# Bump on every change to the rows below.
SIGNATURES_VERSION = "2026.12"

BUILTIN_SIGNATURES: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    # Yahoo (also AOL, Verizon): bracketed codes from the postmaster error-code page.
    ("yahoo.ts01", "yahoo", "throttle", r"\[TS01\]", "deferred: user complaints", ("[ts01]",)),
    (
        "yahoo.ts02",
        "yahoo",
        "throttle",
        r"\[TS02\]",
        "deferred: unexpected volume or complaints",
        ("[ts02]",),
    ),
    ("yahoo.ts03", "yahoo", "block", r"\[TS03\]", "permanently deferred: IP blocked", ("[ts03]",)),
    (
        "yahoo.ts04",
        "yahoo",
        "throttle",
        r"\[TS04\]",
        "deferred: suspend the IP for hours",
        ("[ts04]",),
    ),
    (
        "yahoo.tss04",
        "yahoo",
        "throttle",
        r"\[TSS04\]",
        "deferred: volume or user complaints",
        ("[tss04]",),
    ),
    (
        "yahoo.bl",
        "yahoo",
        "blocklist",
        r"\[BL2[0-3]\]",
        "refused: IP on a Spamhaus list",
        ("[bl2",),
    ),
    # Gmail
    (
        "google.rate_limited",
        "google",
        "throttle",
        r"\b4\.7\.28\b|\b4\.7\.0\b.{0,200}?unusual rate",
        "rate limited: unusual rate of unsolicited mail from the IP",
        ("4.7.28", "4.7.0"),
    ),
    (
        "google.suspicious",
        "google",
        "throttle",
        r"\b4\.7\.0\b.{0,200}?low reputation",
        "deferred: very low reputation of the sending IP or domain",
        ("4.7.0",),
    ),
    (
        "google.unsolicited",
        "google",
        "block",
        r"\b5\.7\.1\b.{0,300}?likely unsolicited",
        "blocked: message likely unsolicited mail",
        ("5.7.1",),
    ),
    (
        "google.low_reputation",
        "google",
        "block",
        r"\b5\.7\.1\b.{0,300}?low reputation",
        "blocked: very low reputation of the sending IP or domain",
        ("5.7.1",),
    ),
    (
        "google.unauthenticated",
        "google",
        "auth",
        r"\b5\.7\.26\b.{0,300}?unauthenticated",
        "blocked: sender unauthenticated (SPF/DKIM/DMARC)",
        ("5.7.26",),
    ),
    # Microsoft (Outlook.com, Hotmail, Microsoft 365)
    (
        "microsoft.s3150",
        "microsoft",
        "block",
        r"\bS3150\b",
        "IP range on Microsoft's block list",
        ("s3150",),
    ),
    (
        "microsoft.s3140",
        "microsoft",
        "block",
        r"\bS3140\b",
        "IP range on Microsoft's block list",
        ("s3140",),
    ),
    (
        "microsoft.5_7_606",
        "microsoft",
        "block",
        r"\b5\.7\.606\b",
        "banned sending IP",
        ("5.7.606",),
    ),
    ("microsoft.5_7_511", "microsoft", "block", r"\b5\.7\.511\b", "banned sender", ("5.7.511",)),
    (
        "microsoft.5_7_708",
        "microsoft",
        "block",
        r"\b5\.7\.708\b",
        "traffic refused from the IP",
        ("5.7.708",),
    ),
    (
        "microsoft.4_7_650",
        "microsoft",
        "throttle",
        r"\b4\.7\.650\b",
        "rate limited: IP reputation",
        ("4.7.650",),
    ),
    (
        "microsoft.4_7_651",
        "microsoft",
        "throttle",
        r"\b4\.7\.651\b",
        "rate limited: IP reputation",
        ("4.7.651",),
    ),
    (
        "microsoft.4_7_500",
        "microsoft",
        "throttle",
        r"\b4\.7\.500\b",
        "server busy: rate limited",
        ("4.7.500",),
    ),
    # Apple iCloud
    (
        "apple.cs01",
        "apple",
        "block",
        r"\[CS01\]",
        "rejected by local policy: sender reputation",
        ("[cs01]",),
    ),
    (
        "apple.cs02",
        "apple",
        "block",
        r"\[CS02\]",
        "rejected by local policy: sender reputation",
        ("[cs02]",),
    ),
    ("apple.hm08", "apple", "block", r"\[HM08\]", "rejected by local policy", ("[hm08]",)),
    # Comcast: RL = rate limit, BL = block, each with a six-digit code.
    ("comcast.rl", "comcast", "throttle", r"\bRL\d{6}\b", "rate limited", ("comcast",)),
    ("comcast.bl", "comcast", "block", r"\bBL\d{6}\b", "IP blocked", ("comcast",)),
    # Orange / Wanadoo
    (
        "orange.ofr004",
        "orange",
        "block",
        r"\bOFR0?04(?:_\d+)?\b",
        "refused: IP reputation",
        ("ofr",),
    ),
    ("orange.ofr999", "orange", "block", r"\bOFR_999\b", "refused: IP reputation", ("ofr_999",)),
    # GMX / web.de / mail.com
    (
        "gmx.reputation",
        "gmx",
        "block",
        r"\b(?:gmx|web\.de)\b.{0,300}?(?:block ?listed|ip reputation|policy restrictions)",
        "refused by IP reputation",
        ("gmx", "web.de"),
    ),
    # Yandex and Mail.ru
    (
        "yandex.spam",
        "yandex",
        "block",
        r"rejected under suspicion of spam",
        "rejected as suspected spam",
        ("suspicion of spam",),
    ),
    (
        "mailru.spam",
        "mailru",
        "block",
        r"help\.mail\.ru/notspam|\bspam message (?:was )?rejected",
        "rejected as spam",
        ("notspam", "spam message"),
    ),
    # Third-party blocklists, named in any provider's reply.
    ("any.spamhaus", "any", "blocklist", r"spamhaus", "IP on a Spamhaus list", ("spamhaus",)),
    ("any.barracuda", "any", "blocklist", r"barracuda", "IP on the Barracuda list", ("barracuda",)),
    ("any.spamcop", "any", "blocklist", r"spamcop", "IP on the SpamCop list", ("spamcop",)),
    (
        "any.dnsbl",
        "any",
        "blocklist",
        r"\bblocked using [a-z0-9-]+\.[a-z0-9.-]+|\b(?:rbl|dnsbl)\b"
        r"|(?<!not )\blisted (?:at|on|in|by) (?:[a-z0-9-]+\.)+[a-z]{2,}",
        "IP on a DNS blocklist",
        ("blocked using", "rbl", "dnsbl", "listed"),
    ),
    # RFC 7372 authentication codes (SPF, DKIM, DMARC, reverse DNS), any provider.
    (
        "any.auth",
        "any",
        "auth",
        r"\b[45]\.7\.2[0-6]\b",
        "authentication failed (SPF/DKIM/DMARC or reverse DNS)",
        (".7.2",),
    ),
)
