"""Deterministic data for screenshots, snapshot tests and the refresh benchmark.

Writes straight into the tables (buckets with their provider, pools, warmups, alerts,
audit, bounce samples, reputation, lease) so a picture of the console depends only on
``now`` and the seed, not on the simulator or the engine's policy.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.storage import tables

SIX_WEEK = [50, 200, 500, 1500, 5000, 10000]
# 2026-03-02T10:00:00Z: the fixed "now" of every screenshot
FIXED_NOW = 1_772_445_600.0


@dataclass(frozen=True)
class Profile:
    ip: str
    subusers: tuple[str, ...]
    per_minute: float  # sent per minute per subuser
    bounce: float  # bounce rate
    pool: str | None = None
    state: str = "active"  # pool member state
    trend: float = 0.0  # added to the bounce rate over the last hour (worsening > 0)


PROFILES: tuple[Profile, ...] = (
    Profile("203.0.113.13", ("marketing",), 40, 0.17, "bulk", "removed", 0.04),
    Profile("198.51.100.21", ("billing",), 25, 0.105, "transactional", "deprioritized"),
    Profile("203.0.113.12", ("marketing", "news"), 30, 0.062, "bulk", "active", 0.01),
    Profile("192.0.2.32", ("news",), 2.5, 0.16, "bulk", "warming"),
    Profile("203.0.113.11", ("marketing", "news"), 45, 0.021, "bulk"),
    Profile("203.0.113.10", ("marketing",), 50, 0.012, "bulk"),
    Profile("192.0.2.31", ("news",), 0.3, 0.058, "bulk", "warming"),
    Profile("198.51.100.22", ("billing",), 35, 0.008, "transactional"),
    Profile("198.51.100.20", ("billing", "receipts"), 40, 0.004, "transactional", "active", -0.01),
    Profile("192.0.2.30", ("news",), 0.6, 0.03, "bulk", "warming"),
    Profile("192.0.2.40", ("",), 12, 0.031, None, "", 0.0),
)

DIAGS = (
    ("5.1.1", True, "550 5.1.1 <{u}@{d}>: Recipient address rejected: User unknown"),
    ("5.7.1", True, "550 5.7.1 Service unavailable, Client host blocked using Spamhaus"),
    ("4.7.0", False, "421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints"),
    ("5.2.2", True, "552 5.2.2 <{u}@{d}>: mailbox full"),
)
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "web.de", "orange.fr")
# Each seeded bucket row's provider: by minute, in turn (IP totals are the same as before).
PROVIDER_CYCLE = ("google", "yahoo", "apple", "other")
# One IP blocked at one provider only: (ip, subuser, minutes back, sent per minute,
# bounced per minute in the last 30 minutes, before that). Its 15m/1h/24h rates at microsoft
# are exact: 40%, 30%, 25%.
MS_BLOCK = ("203.0.113.11", "marketing", 120, 10, 4, 2)
MS_DIAG = ("550 5.7.1 Unfortunately, messages from [203.0.113.11] weren't sent. Please contact"
           " your Internet service provider since part of their network is on our block list"
           " (S3150).")  # fmt: skip
_BUCKET_SQL = text(
    "INSERT INTO bucket (ip, subuser, provider, minute, delivered, bounced, hard, soft,"
    ' "deferred", complaints) VALUES (:ip, :subuser, :provider, :minute, :delivered,'
    " :bounced, :hard, :soft, :deferred, :complaints)"
)


async def seed(
    engine: AsyncEngine,
    now: float = FIXED_NOW,
    *,
    minutes: int = 24 * 60,
    extra_ips: int = 0,
    seed: int = 7,
) -> None:
    """Fill an empty (migrated) database; ``extra_ips`` adds that many plain IPs."""
    rng = random.Random(seed)
    minute_now = int(now) // 60 * 60
    profiles = list(PROFILES) + [
        Profile(
            f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", ("",), 5 + i % 20, (i % 37) / 400
        )
        for i in range(extra_ips)
    ]
    buckets: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    for p in profiles:
        span = minutes if p.ip in {q.ip for q in PROFILES} else min(minutes, 60)
        for sub in p.subusers:
            for back in range(span):
                minute = minute_now - back * 60
                late = max(0.0, 1 - back / 60)  # 1 now .. 0 an hour ago
                rate = max(0.0, p.bounce + p.trend * (late - 0.5))
                expected = p.per_minute * (0.7 + 0.6 * rng.random())
                sent = int(expected) + (1 if rng.random() < expected % 1 else 0)
                if sent == 0:
                    continue
                bounced = min(sent, int(sent * rate + rng.random()))
                hard = int(bounced * 0.7)
                buckets.append(
                    {"ip": p.ip, "subuser": sub, "minute": minute,
                     "provider": PROVIDER_CYCLE[back % len(PROVIDER_CYCLE)],
                     "delivered": sent - bounced,
                     "bounced": bounced, "hard": hard, "soft": bounced - hard,
                     "deferred": int(sent * 0.03 + rng.random() * 2),
                     "complaints": 1 if rng.random() < p.bounce / 8 else 0}
                )  # fmt: skip
        if p.bounce >= 0.05 and p.ip in {q.ip for q in PROFILES}:
            for k in range(6):
                status, hard_, diag = DIAGS[(k + len(p.ip)) % len(DIAGS)]
                domain = DOMAINS[k % len(DOMAINS)]
                samples.append(
                    {"ts": now - 40 - k * 97, "ip": p.ip, "subuser": p.subusers[0],
                     "rcpt_domain": domain, "status": status, "hard": hard_,
                     "diag": diag.format(u=f"user{k}", d=domain), "source": "pmta"}
                )  # fmt: skip
    buckets += ms_block_rows(minute_now) if minutes >= MS_BLOCK[2] else []
    samples += ms_block_samples(now)
    async with engine.begin() as conn:
        for t in (tables.Bucket, tables.BounceSample, tables.PoolMember, tables.Pool,
                  tables.WarmupPlan, tables.Alert, tables.Audit, tables.IngestCounter):  # fmt: skip
            await conn.execute(delete(t.__table__))
        await conn.execute(_BUCKET_SQL, buckets)
        await conn.execute(tables.BounceSample.__table__.insert(), samples)
        await _pools(conn, now)
        await _warmups(conn, now)
        await _alerts(conn, now)
        await _audit(conn, now)
        await _reputation(conn, now)
        await conn.execute(
            tables.IngestCounter.__table__.insert().values(
                source="pmta", format="pmta", path="/var/log/pmta/acct-*.csv", lines=182_331,
                events=181_907, malformed=3, last_event_at=now - 2, last_read_at=now - 1,
            )
        )  # fmt: skip


def ms_block_rows(minute_now: int) -> list[dict[str, Any]]:
    ip, sub, span, sent, late, early = MS_BLOCK
    rows = []
    for back in range(span):
        bounced = late if back < 30 else early
        rows.append(
            {"ip": ip, "subuser": sub, "provider": "microsoft", "minute": minute_now - back * 60,
             "delivered": sent - bounced, "bounced": bounced, "hard": bounced, "soft": 0,
             "deferred": 0, "complaints": 0}
        )  # fmt: skip
    return rows


def ms_block_samples(now: float) -> list[dict[str, Any]]:
    ip, sub = MS_BLOCK[0], MS_BLOCK[1]
    out = [
        {"ts": now - 30 - k * 61, "ip": ip, "subuser": sub,
         "rcpt_domain": ("outlook.com", "hotmail.com", "live.com")[k % 3], "status": "5.7.1",
         "hard": True, "diag": MS_DIAG, "source": "pmta"}
        for k in range(5)
    ]  # fmt: skip
    out.append(
        {"ts": now - 400, "ip": ip, "subuser": sub, "rcpt_domain": "gmail.com", "status": "5.1.1",
         "hard": True, "diag": DIAGS[0][2].format(u="user9", d="gmail.com"), "source": "pmta"}
    )  # fmt: skip
    return out


# Reputation: (ip, zone, listed, code, meaning, severity); every seeded IP but 192.0.2.40
# was checked, so its cell reads "-".
LISTINGS = (
    ("203.0.113.13", "zen.spamhaus.org", True, "127.0.0.2",
     "SBL: Spamhaus Block List (spam source)", "critical"),
    ("203.0.113.13", "bl.spamcop.net", True, "127.0.0.2", "SpamCop: reported spam source",
     "warning"),
    ("198.51.100.21", "bl.spamcop.net", True, "127.0.0.2", "SpamCop: reported spam source",
     "warning"),
)  # fmt: skip
# (ip, source, seconds before now, state): drawn on the IP detail's timeline
CHANGES = (
    ("203.0.113.13", "snds", 20 * 3600, "YELLOW"),
    ("203.0.113.13", "zen.spamhaus.org", 6 * 3600, "listed"),
    ("203.0.113.13", "bl.spamcop.net", 3 * 3600, "listed"),
    ("203.0.113.13", "snds", 2 * 3600, "RED"),
    ("198.51.100.21", "zen.spamhaus.org", 22 * 3600, "listed"),
    ("198.51.100.21", "zen.spamhaus.org", 10 * 3600, "clear"),
    ("198.51.100.21", "bl.spamcop.net", 1 * 3600, "listed"),
)
SNDS_DAYS = (("2026-03-01", "RED", 0.012, 4), ("2026-02-28", "YELLOW", 0.004, 1),
             ("2026-02-27", "GREEN", 0.0008, 0))  # fmt: skip


async def _reputation(conn: Any, now: float) -> None:
    from opsconsole.storage.reputation_tables import reputation, reputation_change, snds

    for t in (reputation, reputation_change, snds):
        await conn.execute(delete(t))
    zones = ("zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net")
    listed = {(ip, zone): rest for ip, zone, *rest in LISTINGS}
    rows = []
    for p in PROFILES:
        if p.ip == "192.0.2.40":
            continue
        for zone in zones:
            hit = listed.get((p.ip, zone))
            rows.append(
                {"ip": p.ip, "zone": zone, "listed": hit is not None,
                 "code": hit[1] if hit else "", "meaning": hit[2] if hit else "",
                 "severity": hit[3] if hit else None, "refused": False, "error": None,
                 "checked_at": now - 600}
            )  # fmt: skip
    await conn.execute(reputation.insert(), rows)
    await conn.execute(
        reputation_change.insert(),
        [{"ip": ip, "source": src, "at": now - ago, "state": state, "detail": ""}
         for ip, src, ago, state in CHANGES],
    )  # fmt: skip
    await conn.execute(
        snds.insert(),
        [{"ip": "203.0.113.13", "day": day, "activity_start": f"{day}T00:00:00",
          "activity_end": f"{day}T23:59:00", "rcpt": 4000, "data": 3900, "recipients": 4100,
          "filter": f, "complaint_rate": cr, "trap_hits": traps, "blocked": f == "RED",
          "fetched_at": now - 3600}
         for day, f, cr, traps in SNDS_DAYS],
    )  # fmt: skip


async def _pools(conn: Any, now: float) -> None:
    await conn.execute(
        tables.Pool.__table__.insert(),
        [{"name": "bulk", "created_at": now - 90 * 86400},
         {"name": "transactional", "created_at": now - 90 * 86400}],
    )  # fmt: skip
    rows = []
    for p in PROFILES:
        if p.pool is None:
            continue
        weight = {"removed": 0.0, "deprioritized": 10.0}.get(p.state, 100.0)
        rows.append(
            {"pool": p.pool, "ip": p.ip, "base_weight": 100.0, "weight": weight,
             "state": p.state, "daily_cap": None if p.state == "warming" else 100_000,
             "healthy_checks": 0, "state_reason": "", "changed_at": now - 3600}
        )  # fmt: skip
    await conn.execute(tables.PoolMember.__table__.insert(), rows)


async def _warmups(conn: Any, now: float) -> None:
    day0 = int(now) // 86400 * 86400
    plans = [
        ("192.0.2.30", 2, 3, "warming", ""),
        ("192.0.2.31", 1, 6, "held", "stage bounce 5.80% >= warning 5.00%"),
        ("192.0.2.32", 3, 1, "paused", "bounce 16.00% >= block 15.00% (engine)"),
    ]
    await conn.execute(
        tables.WarmupPlan.__table__.insert(),
        [{"ip": ip, "pool": "bulk", "schedule": "six-week", "stage_days": 7,
          "daily_quotas": json.dumps(SIX_WEEK), "stage": stage, "day": day, "state": state,
          "state_reason": reason, "started_at": now - (stage * 7 + day) * 86400,
          "day_started_at": day0, "paused_at": now - 1800 if state == "paused" else None,
          "updated_at": now - 1800}
         for ip, stage, day, state, reason in plans],
    )  # fmt: skip


ALERTS: tuple[tuple[str, str, str, str, str, float, str | None, str, float], ...] = (
    # id, ip, subuser, severity, state, value, acked_by, title, opened ago
    ("a-1001", "203.0.113.13", "marketing", "critical", "firing", 0.17, None,
     "IP Blocked - High Bounce Rate", 1500),
    ("a-1002", "198.51.100.21", "billing", "warning", "acknowledged", 0.105, "alice",
     "IP Deprioritized - High Bounce Rate", 2900),
    ("a-1003", "192.0.2.32", "news", "critical", "firing", 0.16, None,
     "Warmup Paused - High Bounce Rate", 1800),
    ("a-1004", "203.0.113.12", "marketing", "info", "firing", 0.062, None,
     "Warning Bounce Rate", 700),
    ("a-0990", "198.51.100.20", "billing", "info", "resolved", 0.051, "bob",
     "Warning Bounce Rate", 20000),
)  # fmt: skip


async def _alerts(conn: Any, now: float) -> None:
    rows = []
    for aid, ip, sub, sev, state, value, by, title, ago in ALERTS:
        rows.append(
            {"id": aid, "key": f"bounce_rate|{ip}|{sub}", "rule": "bounce_rate", "ip": ip,
             "subuser": sub, "severity": sev, "state": state, "title": title,
             "message": f"IP {ip} (subuser: {sub}) at {value:.2%} bounce rate",
             "value": value, "sent": 1500, "opened_at": now - ago, "last_seen_at": now - 30,
             "acknowledged_by": by, "acknowledged_at": now - ago + 300 if by else None,
             "resolved_at": now - ago + 3000 if state == "resolved" else None}
        )  # fmt: skip
    await conn.execute(tables.Alert.__table__.insert(), rows)


async def _audit(conn: Any, now: float) -> None:
    rows = [
        (now - 1500, "engine", "remove", "203.0.113.13", "bulk", "bounce 17.00% >= block 15.00%"),
        (now - 1800, "engine", "pause_warmup", "192.0.2.32", "bulk", "bounce 16.00% >= block"),
        (now - 2900, "engine", "deprioritize", "198.51.100.21", "transactional",
         "bounce 10.50% >= critical 10.00%"),
        (now - 2600, "alice", "ack", "198.51.100.21", "", "looking at it with the ESP"),
        (now - 86000, "carol", "restore", "203.0.113.13", "bulk", "list cleaned"),
    ]  # fmt: skip
    await conn.execute(
        tables.Audit.__table__.insert(),
        [{"at": at, "actor": who, "action": what, "ip": ip, "pool": pool, "subuser": "",
          "reason": why, "detail": "{}"} for at, who, what, ip, pool, why in rows],
    )  # fmt: skip


async def hold_lease(engine: AsyncEngine, holder: str, now: float, *, ttl: float = 3600) -> None:
    """Make another engine the leader (a follower test, a screenshot with an engine)."""
    async with engine.begin() as conn:
        await conn.execute(delete(tables.Lease.__table__))
        await conn.execute(
            tables.Lease.__table__.insert().values(
                name="engine", holder=holder, host="mx1.example.net", pid=4242,
                acquired_at=now - 7200, heartbeat_at=now - 1, expires_at=now + ttl,
                check_interval=300, last_check_at=now - 42, events_per_s=212.5,
            )
        )  # fmt: skip
