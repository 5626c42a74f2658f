"""Another PowerMTA accounting generator than the simulator: quoted fields (every text field
quoted, commas inside), a ``record-fields`` header order of its own, random seconds, many
IPs (IPv4 and IPv6), vmta pools, long record-type names, ``tq``/``r`` records, complaints
with ``repSourceIp`` and recipients in angle brackets. Optionally hostile lines (odd quotes,
doubled quotes, CR, bad IPs, timestamps out of range, blank lines, a header restart).

Used by the differential test (fast path == line parser) and by ``bench.ingest_pmta``.
"""

from __future__ import annotations

import random
from pathlib import Path

HEADER = (
    "type", "bounceCat", "vmta", "timeLogged", "dlvSourceIp", "rcpt", "dsnStatus",
    "dsnDiag", "vmtaPool", "orig", "dlvDestinationIp", "dlvEsmtpAvailable", "repSourceIp",
    "feedbackType", "jobId",
)  # fmt: skip
CATS = ("bad-mailbox", "policy-related", "spam-related", "quota-issues", "other", "")
DOMAINS = ("gmail.com", "Yahoo.com", "outlook.com", "example.org", "GMX.de", "web.de")


def ip_pool(n: int) -> list[str]:
    out = [f"198.51.{i // 250 % 250}.{i % 250 + 1}" for i in range(n - n // 10)]
    out += [f"2001:db8::{i + 1:x}" for i in range(n // 10)]
    return out


def vmta_map(ips: list[str]) -> dict[str, str]:
    """``--ip-map`` for the vmta names this generator writes (half of them)."""
    return {f"vmta-{i}": ip for i, ip in enumerate(ips) if i % 2 == 0}


def _q(text: str) -> str:
    return '"' + text + '"'


def record(rng: random.Random, ips: list[str], ts: float) -> str:
    from datetime import UTC, datetime

    kind = rng.choices(
        ["d", "delivery", "b", "bounce", "rb", "t", "transient", "f", "tq", "r"],
        [60, 5, 8, 2, 2, 8, 2, 3, 2, 2],
    )[0]
    i = rng.randrange(len(ips))
    when = datetime.fromtimestamp(ts, UTC)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") + rng.choice(["+0000", "+0100", "-0500", ""])
    if rng.random() < 0.05:
        stamp = str(int(ts))
    dom = rng.choice(DOMAINS)
    rcpt = f"u{rng.randrange(10**6)}@{dom}"
    if rng.random() < 0.1:
        rcpt = f"<{rcpt}>"
    blank_ip = rng.random() < 0.4
    ip = "" if blank_ip else ips[i]
    status = {"d": "2.0.0 (success)", "delivery": "2.0.0"}.get(kind, "")
    if kind in ("b", "bounce", "rb"):
        status = rng.choice(["5.1.1 (bad destination mailbox address)", "5.7.1", "5.2.2"])
    elif kind in ("t", "transient", "tq"):
        status = rng.choice(["4.7.28", "4.2.2 (mailbox full)", "4.4.1"])
    diag = {
        "5": rng.choice([
            "smtp;550 5.1.1 <x@y> User unknown, please check",
            "smtp;554 5.7.1 Service unavailable; Client host blocked using Spamhaus",
            "smtp;552 5.2.2 Mailbox full, try later",
        ]),
        "4": rng.choice([
            "smtp;421 4.7.28 rate limited, unusual rate of unsolicited mail",
            "smtp;452 4.2.2 Mailbox full",
        ]),
    }.get(status[:1], "smtp;250 ok")  # fmt: skip
    cat = rng.choice(CATS) if kind != "d" else ""
    rep = ips[rng.randrange(len(ips))] if kind == "f" else ""
    pool = f"pool-{i % 7}" if rng.random() < 0.5 else ""
    fields = [
        kind, cat, f"vmta-{i}", stamp, ip, rcpt, status, _q(diag), pool,
        _q("bounces@example.net"), "203.0.113.9", _q("ENHANCEDSTATUSCODES,8BITMIME"),
        rep, "abuse" if kind == "f" else "", _q(f"job,{rng.randrange(50)}"),
    ]  # fmt: skip
    return ",".join(fields)


HOSTILE = (
    'd,,vmta-1,2026-03-01 10:00:00+0000,198.51.0.2,a@gmail.com,2.0.0,"open quote,,,,,,,',
    'd,,vmta-1,2026-03-01 10:00:00+0000,198.51.0.2,a@gmail.com,2.0.0,"say ""hi""",,"o",1,"e",,,1',
    'd,,vmta-1,2026-03-01 10:00:00+0000,198.51.0.2,a@gmail.com,2.0.0,x"y,,o,1,e,,,1',
    "b,,vmta-1,2026-03-01 10:00:00+0000,999.1.1.1,a@gmail.com,5.1.1,x,,o,1,e,,,1",
    "b,,vmta-1,1980-03-01 10:00:00+0000,198.51.0.2,a@gmail.com,5.1.1,x,,o,1,e,,,1",
    "d,,vmta-1,2026-03-01 10:00:00+0000,198.51.0.2,a@gmail.com,2.0.0\r",
    "",
    "   ",
    "d,too,few",
    "type,timeLogged,vmta,dlvSourceIp,rcpt",
    "d,2026-03-01 10:00:00+0000,vmta-2,,z@gmail.com",
    "type,bounceCat,vmta,timeLogged,dlvSourceIp,rcpt,dsnStatus,dsnDiag,vmtaPool,orig,"
    "dlvDestinationIp,dlvEsmtpAvailable,repSourceIp,feedbackType,jobId",
    "d,,vmta-\x00x,2026-03-01 10:00:00+0000,,a@gmail.com,2.0.0,x,,o,1,e,,,1",
)


def write(
    path: str | Path,
    lines: int,
    *,
    seed: int = 1,
    ips: int = 400,
    start: float = 1_772_359_200.0,
    hours: float = 24,
    hostile: float = 0.0,
) -> dict[str, str]:
    """Write ``lines`` records (plus the header) to ``path``; return the vmta map to pass.
    ``hostile``: the probability that a line is one of :data:`HOSTILE` instead."""
    rng = random.Random(seed)
    pool = ip_pool(ips)
    step = hours * 3600 / max(1, lines)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        ts = start
        for _ in range(lines):
            ts += rng.random() * 2 * step
            if hostile and rng.random() < hostile:
                f.write(rng.choice(HOSTILE) + "\n")
            else:
                f.write(record(rng, pool, ts) + "\n")
    return vmta_map(pool)
