"""Seeded traffic simulator: a scenario of sending IPs, events, and real-looking MTA lines.

Three layers, all pure (no SQL, no Textual, no wall clock: time is always a parameter):

- :class:`Scenario` describes the sending side: rotation pools of production IPs, warming
  IPs, and how each IP behaves (one goes bad, one sits at warning, one at critical), plus the
  names each MTA gives an IP (PowerMTA vmta, Postfix syslog name, KumoMTA egress source), so a
  demo can build the matching config with :meth:`Scenario.config_dict`.
- :func:`generate_events` draws a deterministic, time-ordered stream of :class:`Event` s.
- Renderers turn events into the lines each MTA really writes (see ``domain/formats.md`` and
  the samples): :func:`render_pmta`, :func:`render_postfix`, :func:`render_kumo`,
  :func:`render_jsonl`. :func:`write_file` streams them to disk and returns the
  :class:`Truth`: exactly what was written, per IP, as a correct parser must count it.

:class:`LiveFeed` produces the same lines incrementally for ``--demo``, following a short story
(the bad IP worsens over the first minute and a half; the critical IP recovers at ~100 s), so
alerts open and resolve within a couple of minutes.

Speed: timestamps are formatted once per second (events are time-ordered), response texts
and per-IP strings are built once per scenario, and lines are written in chunks.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Literal

from opsconsole.core.events import Event, Kind

FORMATS = ("pmta", "postfix", "kumo", "jsonl")
Format = Literal["pmta", "postfix", "kumo", "jsonl"]
Trend = Literal["steady", "worsening", "recovering"]

# PowerMTA: the common full header (domain/formats.md) plus the feedback-loop columns, as a
# file holding d, b, t and f records carries the union of their columns.
PMTA_COMMON_HEADER: tuple[str, ...] = (
    "type",
    "timeLogged",
    "timeQueued",
    "orig",
    "rcpt",
    "orcpt",
    "dsnAction",
    "dsnStatus",
    "dsnDiag",
    "dsnMta",
    "bounceCat",
    "srcType",
    "srcMta",
    "dlvType",
    "dlvSourceIp",
    "dlvDestinationIp",
    "dlvEsmtpAvailable",
    "dlvSize",
    "vmta",
    "jobId",
    "envId",
    "queue",
    "vmtaPool",
)
PMTA_HEADER: tuple[str, ...] = (*PMTA_COMMON_HEADER, "repSourceIp", "feedbackType", "format")

# Story of the live feed, in seconds since its start.
LIVE_RAMP: tuple[float, float] = (10.0, 90.0)  # the bad IP's blocks climb over this span
LIVE_RECOVER_AT = 100.0  # the recovering IP's blocks stop here
# Story of a batch file, as a fraction of its span: the bad IP degrades over this part.
BATCH_RAMP: tuple[float, float] = (0.5, 0.8)

# Engine settings that make the live story visible within a couple of minutes (short window,
# frequent checks). A suggestion for the demo's config, not used here.
DEMO_MONITOR: dict[str, Any] = {
    "check_interval": "5s",
    "window": "1m",
    "min_sample": 10,
    "recover_checks": 3,
}


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class IpProfile:
    """One sending IP: where it sits, how much it sends, how it behaves.

    Rates are per recipient. ``block`` is the reputation part of the bounce rate (5.7.1 spam
    and policy blocks), ``list_bounce`` the list-quality part (5.1.1 unknown users, 5.2.1
    disabled, 5.2.2 over quota). ``worsening``: ``block`` climbs from ``block_start``;
    ``recovering`` (live feed only): ``block`` drops to ``block_after`` at
    :data:`LIVE_RECOVER_AT`.
    """

    ip: str
    pool: str | None
    vmta: str  # PowerMTA virtual MTA bound to this IP (its subuser in pmta files)
    syslog_name: str  # Postfix transport's syslog_name, e.g. "postfix/out2"
    kumo_source: str  # KumoMTA egress_source name
    tenants: tuple[str, ...] = ("acme",)  # KumoMTA meta.tenant / Event.subuser
    warming: bool = False
    weight: float = 100.0  # base weight in its pool (config)
    share: float = 1.0  # relative traffic volume
    list_bounce: float = 0.01
    block: float = 0.002
    block_start: float = 0.002
    block_after: float = 0.002
    deferral: float = 0.02
    complaint: float = 0.0004
    trend: Trend = "steady"

    @property
    def bounce_rate(self) -> float:
        """Steady-state bounce rate (the end of a batch file)."""
        return self.list_bounce + self.block

    def block_at_batch(self, x: float) -> float:
        if self.trend != "worsening":
            return self.block
        a, b = BATCH_RAMP
        f = min(1.0, max(0.0, (x - a) / (b - a)))
        return self.block_start + (self.block - self.block_start) * f

    def block_at_live(self, elapsed: float, ramp: tuple[float, float], recover_at: float) -> float:
        if self.trend == "worsening":
            a, b = ramp
            f = min(1.0, max(0.0, (elapsed - a) / (b - a)))
            return self.block_start + (self.block - self.block_start) * f
        if self.trend == "recovering":
            return self.block if elapsed < recover_at else self.block_after
        return self.block


@dataclass(frozen=True)
class Domain:
    name: str
    weight: float
    mx: str
    mx_ip: str
    family: str  # response texts: google, yahoo, microsoft, apple, generic


DEFAULT_DOMAINS: tuple[Domain, ...] = (
    Domain("gmail.com", 34, "gmail-smtp-in.l.google.com", "142.250.153.26", "google"),
    Domain("yahoo.com", 12, "mta6.am0.yahoodns.net", "67.195.204.77", "yahoo"),
    Domain("outlook.com", 9, "outlook-com.olc.protection.outlook.com", "52.101.42.4", "microsoft"),
    Domain("hotmail.com", 8, "hotmail-com.olc.protection.outlook.com", "52.101.11.0", "microsoft"),
    Domain("icloud.com", 6, "mx01.mail.icloud.com", "17.57.154.33", "apple"),
    Domain("aol.com", 3, "mx-aol.mail.gm0.yahoodns.net", "67.195.204.79", "yahoo"),
    Domain("live.com", 3, "live-com.olc.protection.outlook.com", "52.101.40.26", "microsoft"),
    Domain("comcast.net", 3, "mx2c1.comcast.net", "96.114.157.81", "generic"),
    Domain("att.net", 2, "ff-ip4-mx-vip1.prodigy.net", "144.160.159.21", "generic"),
    Domain("gmx.de", 3, "mx00.emig.gmx.net", "212.227.15.9", "generic"),
    Domain("web.de", 2, "mx-ha03.web.de", "212.227.17.8", "generic"),
    Domain("orange.fr", 2, "smtp-in.orange.fr", "80.12.242.82", "generic"),
    Domain("proton.me", 1, "mail.protonmail.ch", "185.70.42.128", "generic"),
    Domain("yandex.ru", 1, "mx.yandex.ru", "77.88.21.249", "generic"),
    Domain("me.com", 1, "mx02.mail.icloud.com", "17.57.155.34", "apple"),
)

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


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Scenario:
    """The sending side of a simulation; see :meth:`default` and :meth:`from_ips`."""

    ips: tuple[IpProfile, ...]
    domains: tuple[Domain, ...] = DEFAULT_DOMAINS
    host: str = "mail1"  # syslog host name of the Postfix lines

    def __post_init__(self) -> None:
        if not self.ips:
            raise ValueError("a scenario needs at least one IP")
        for attr in ("ip", "vmta", "syslog_name", "kumo_source"):
            names = [getattr(p, attr) for p in self.ips]
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate {attr} in scenario")

    @classmethod
    def default(cls) -> Scenario:
        """Two rotation pools, three warming IPs, and one IP each going bad, at warning, at
        critical (the critical one recovers in the live feed)."""
        bulk = ("acme", "globex", "initech")
        tx = ("acme-tx", "umbrella")

        def prod(ip: str, pool: str, n: int, tenants: tuple[str, ...], **kw: Any) -> IpProfile:
            short = "bulk" if pool == "bulk" else "tx"
            last = ip.rsplit(".", 1)[1]
            return IpProfile(
                ip=ip,
                pool=pool,
                vmta=f"vmta-{short}{n}",
                syslog_name=f"postfix/out{last}",
                kumo_source=f"{short}{n}",
                tenants=tenants,
                **kw,
            )

        def warm(ip: str, pool: str, n: int, tenants: tuple[str, ...], **kw: Any) -> IpProfile:
            last = ip.rsplit(".", 1)[1]
            return IpProfile(
                ip=ip,
                pool=pool,
                vmta=f"vmta-warm{n}",
                syslog_name=f"postfix/out{last}",
                kumo_source=f"warm{n}",
                tenants=tenants,
                warming=True,
                share=0.12,
                **kw,
            )

        return cls(
            ips=(
                prod("203.0.113.1", "bulk", 1, bulk, list_bounce=0.010, block=0.002),
                prod(
                    "203.0.113.2",
                    "bulk",
                    2,
                    bulk,
                    list_bounce=0.010,
                    block_start=0.003,
                    block=0.19,
                    deferral=0.04,
                    complaint=0.002,
                    trend="worsening",
                ),
                prod(
                    "203.0.113.3",
                    "bulk",
                    3,
                    bulk,
                    list_bounce=0.045,
                    block=0.025,
                    complaint=0.001,
                ),
                prod(
                    "203.0.113.4",
                    "bulk",
                    4,
                    bulk,
                    list_bounce=0.025,
                    block=0.10,
                    block_after=0.002,
                    deferral=0.03,
                    trend="recovering",
                ),
                prod(
                    "203.0.113.10",
                    "transactional",
                    1,
                    tx,
                    share=0.7,
                    list_bounce=0.005,
                    block=0.001,
                    deferral=0.01,
                    complaint=0.0001,
                ),
                prod(
                    "203.0.113.11",
                    "transactional",
                    2,
                    tx,
                    share=0.7,
                    list_bounce=0.006,
                    block=0.002,
                    deferral=0.01,
                    complaint=0.0001,
                ),
                warm("198.51.100.20", "bulk", 1, bulk, list_bounce=0.012, block=0.004),
                warm("198.51.100.21", "bulk", 2, bulk, list_bounce=0.015, block=0.005),
                warm("198.51.100.22", "transactional", 3, tx, list_bounce=0.008, block=0.002),
            )
        )

    @classmethod
    def from_ips(
        cls,
        ips: Sequence[str],
        *,
        pool: str = "main",
        warming: Sequence[str] = (),
        bad: str | None = None,
        warning: str | None = None,
        critical: str | None = None,
        recovering: str | None = None,
        tenants: tuple[str, ...] = ("acme", "globex", "initech"),
    ) -> Scenario:
        """Production ``ips`` in one pool plus ``warming`` IPs; healthy unless named as
        ``bad`` (climbs to ~20%), ``warning`` (~7%), ``critical`` (~12.5%) or
        ``recovering`` (critical, then healthy in the live feed). Names are numbered:
        ``vmta-<pool>N``, ``postfix/outN``, ``<pool>N`` (production) and ``vmta-warmN``,
        ``postfix/outN``, ``warmN`` (warming)."""
        all_ips = [*ips, *warming]
        if not all_ips:
            raise ValueError("from_ips needs at least one IP")
        for ip in all_ips:
            if not _is_ip(ip):
                raise ValueError(f"not an IP address: {ip!r}")
        if len(set(all_ips)) != len(all_ips):
            raise ValueError("duplicate IP in from_ips")
        for name, ip in (
            ("bad", bad),
            ("warning", warning),
            ("critical", critical),
            ("recovering", recovering),
        ):
            if ip is not None and ip not in all_ips:
                raise ValueError(f"{name} IP {ip} is not one of the scenario's IPs")
        profiles: list[IpProfile] = []
        for n, ip in enumerate(all_ips, 1):
            is_warm = ip in warming
            kw: dict[str, Any] = {}
            if ip == bad:
                kw = {
                    "block_start": 0.003,
                    "block": 0.19,
                    "deferral": 0.04,
                    "complaint": 0.002,
                    "trend": "worsening",
                }
            elif ip == recovering:
                kw = {"list_bounce": 0.025, "block": 0.10, "trend": "recovering"}
            elif ip == critical:
                kw = {"list_bounce": 0.025, "block": 0.10}
            elif ip == warning:
                kw = {"list_bounce": 0.045, "block": 0.025, "complaint": 0.001}
            profiles.append(
                IpProfile(
                    ip=ip,
                    pool=pool,
                    vmta=f"vmta-warm{n}" if is_warm else f"vmta-{pool}{n}",
                    syslog_name=f"postfix/out{n}",
                    kumo_source=f"warm{n}" if is_warm else f"{pool}{n}",
                    tenants=tenants,
                    warming=is_warm,
                    share=0.12 if is_warm else 1.0,
                    **kw,
                )
            )
        return cls(ips=tuple(profiles))

    # -- views a demo or a test needs

    @property
    def pools(self) -> dict[str, tuple[str, ...]]:
        """Pool name -> production (non-warming) member IPs."""
        out: dict[str, list[str]] = {}
        for p in self.ips:
            if p.pool and not p.warming:
                out.setdefault(p.pool, []).append(p.ip)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def warming(self) -> dict[str, str | None]:
        """Warming IP -> the pool it joins when its warmup completes."""
        return {p.ip: p.pool for p in self.ips if p.warming}

    def profile(self, ip: str) -> IpProfile:
        for p in self.ips:
            if p.ip == ip:
                return p
        raise KeyError(ip)

    def _first(self, pred: Callable[[IpProfile], bool]) -> str | None:
        return next((p.ip for p in self.ips if pred(p)), None)

    @property
    def bad_ip(self) -> str | None:
        return self._first(lambda p: p.trend == "worsening")

    @property
    def recovering_ip(self) -> str | None:
        return self._first(lambda p: p.trend == "recovering")

    @property
    def warning_ip(self) -> str | None:
        return self._first(lambda p: p.trend == "steady" and 0.05 <= p.bounce_rate < 0.10)

    @property
    def critical_ip(self) -> str | None:
        return self._first(lambda p: 0.10 <= p.bounce_rate < 0.15 and p.trend != "worsening")

    def ip_map(self, fmt: str) -> dict[str, str]:
        """Name -> IP for ``fmt``'s sources: vmta (pmta), syslog name (postfix), egress
        source (kumo); empty for jsonl, which carries the IP."""
        if fmt == "pmta":
            return {p.vmta: p.ip for p in self.ips}
        if fmt == "postfix":
            return {p.syslog_name: p.ip for p in self.ips}
        if fmt == "kumo":
            return {p.kumo_source: p.ip for p in self.ips}
        if fmt == "jsonl":
            return {}
        raise ValueError(f"unknown format {fmt!r} (pmta, postfix, kumo or jsonl)")

    def config_dict(self, sources: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Config matching this scenario, in the shape of the settings.

        ``pools`` and ``warmups`` are ready for :class:`Settings`; ``ip_map`` holds the map
        of every format (put it in a source's ``ip_map``). With ``sources`` (format -> path),
        ``sources`` entries are included too, each with its format's map.
        """
        pools = [
            {
                "name": name,
                "members": [{"ip": ip, "weight": self.profile(ip).weight} for ip in members],
            }
            for name, members in self.pools.items()
        ]
        warmups: list[dict[str, Any]] = []
        for ip, pool in self.warming.items():
            decl: dict[str, Any] = {"ip": ip}
            if pool:
                decl["pool"] = pool
            warmups.append(decl)
        out: dict[str, Any] = {
            "pools": pools,
            "warmups": warmups,
            "ip_map": {fmt: self.ip_map(fmt) for fmt in FORMATS},
        }
        if sources:
            out["sources"] = [
                {"name": f"sim-{fmt}", "format": fmt, "path": path, "ip_map": self.ip_map(fmt)}
                for fmt, path in sources.items()
            ]
        return out


# --------------------------------------------------------------------------- event model


class _Model:
    """A scenario compiled into lookup tables for the draw loop."""

    IP_SLOTS = 4096
    DOM_SLOTS = 1024

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.profiles = scenario.ips
        self.ips = [p.ip for p in scenario.ips]
        self.tenants = [p.tenants or (None,) for p in scenario.ips]
        self.ip_table = _slots([p.share for p in scenario.ips], self.IP_SLOTS)
        self.domains = [d.name for d in scenario.domains]
        self.dom_table = _slots([d.weight for d in scenario.domains], self.DOM_SLOTS)
        # responses[ip][domain][type] -> (status, diag, hard)
        self.responses: list[list[dict[str, tuple[str, str, bool]]]] = []
        for p in scenario.ips:
            per_dom = []
            for d in scenario.domains:
                texts = _TEXTS.get(d.family, _TEXTS["generic"])
                per_type = {}
                for t in _TYPES:
                    diag = texts[t].replace("{ip}", p.ip)
                    per_type[t] = (_enhanced(diag), diag, t in _HARD_TYPES)
                per_dom.append(per_type)
            self.responses.append(per_dom)

    def thresholds(self, blocks: Sequence[float]) -> list[tuple[float, float, float, float]]:
        """Cumulative outcome thresholds per IP: block, +list bounce, +deferral, +complaint."""
        out = []
        for p, block in zip(self.profiles, blocks, strict=True):
            deferral = p.deferral + 0.3 * max(0.0, block - p.block_start)
            a = block
            b = a + p.list_bounce
            c = b + deferral
            d = c + p.complaint
            out.append((a, b, c, d))
        return out

    def batch_thresholds(self, x: float) -> list[tuple[float, float, float, float]]:
        return self.thresholds([p.block_at_batch(x) for p in self.profiles])

    def draw(
        self,
        rng: random.Random,
        stamps: Iterable[float],
        thr: Sequence[tuple[float, float, float, float]],
    ) -> list[Event]:
        rnd = rng.random
        ip_table = self.ip_table
        ip_slots = len(ip_table)
        dom_table = self.dom_table
        dom_slots = len(dom_table)
        ips = self.ips
        tenants = self.tenants
        domains = self.domains
        responses = self.responses
        delivered, bounced, deferred, complained = (
            Kind.DELIVERED,
            Kind.BOUNCED,
            Kind.DEFERRED,
            Kind.COMPLAINED,
        )
        out: list[Event] = []
        append = out.append
        for ts in stamps:
            k = ip_table[int(rnd() * ip_slots)]
            d = dom_table[int(rnd() * dom_slots)]
            ten = tenants[k]
            sub = ten[int(rnd() * len(ten))]
            r = rnd()
            t_block, t_list, t_defer, t_compl = thr[k]
            if r >= t_compl:
                append(Event(ts, delivered, ips[k], sub, False, domains[d]))
                continue
            if r < t_block:
                typ = "spam" if rnd() < 0.8 else "policy"
                kind = bounced
            elif r < t_list:
                u = rnd()
                typ = "hard" if u < 0.75 else ("inactive" if u < 0.8 else "quota")
                kind = bounced
            elif r < t_defer:
                typ = "defer_rate" if rnd() < 0.7 else "defer_quota"
                kind = deferred
            else:
                append(Event(ts, complained, ips[k], sub, False, domains[d]))
                continue
            status, diag, hard = responses[k][d][typ]
            append(Event(ts, kind, ips[k], sub, hard, domains[d], status, diag))
        return out


def _slots(weights: Sequence[float], n: int) -> list[int]:
    """A table of ``n`` indexes in which index i appears in proportion to ``weights[i]``."""
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must not all be zero")
    table: list[int] = []
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        upto = round(acc / total * n)
        table.extend([i] * (upto - len(table)))
    return table


def _enhanced(diag: str) -> str:
    """ "550-5.1.1 The email..." -> "5.1.1"."""
    parts = diag[4:].split(" ", 1)[0] if len(diag) > 4 else ""
    return parts if parts[:1] in ("2", "4", "5") and parts.count(".") == 2 else ""


def generate_events(
    scenario: Scenario | None, n: int, start_ts: float, end_ts: float, seed: int = 1
) -> Iterator[Event]:
    """``n`` events between ``start_ts`` and ``end_ts``, time-ordered, deterministic per seed.

    Event ``i`` falls in the i-th of ``n`` equal slices of the span (so the order holds and
    the rate is even). The bad IP degrades over :data:`BATCH_RAMP` of the span and stays bad.
    ``subuser`` is the tenant (the KumoMTA ``meta.tenant``).
    """
    if n < 0:
        raise ValueError("n must not be negative")
    if end_ts < start_ts:
        raise ValueError("end_ts is before start_ts")
    model = _Model(scenario or Scenario.default())
    rng = random.Random(seed)
    rnd = rng.random
    step = (end_ts - start_ts) / n if n else 0.0
    chunk = 2048
    for base in range(0, n, chunk):
        stop = min(base + chunk, n)
        thr = model.batch_thresholds((base + stop) / 2 / n)
        stamps = [start_ts + (i + rnd()) * step for i in range(base, stop)]
        yield from model.draw(rng, stamps, thr)


# --------------------------------------------------------------------------- truth


@dataclass
class Counts:
    delivered: int = 0
    bounced: int = 0
    hard: int = 0
    soft: int = 0
    deferred: int = 0
    complaints: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "bounced": self.bounced,
            "hard": self.hard,
            "soft": self.soft,
            "deferred": self.deferred,
            "complaints": self.complaints,
        }


@dataclass
class Truth:
    """Exactly what a file (or a live feed) holds, as a correct parser must count it.

    ``tally`` maps (ip, subuser, kind, hard) -> count, where ip/subuser are what the line
    yields after attribution through the format's ``ip_map`` (None when it cannot be
    attributed) and subuser is the vmta (pmta), tenant (kumo, jsonl) or None (postfix).
    ``skipped`` counts events the format cannot express (complaints in Postfix logs).
    """

    format: str
    ip_map: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    tally: dict[tuple[str | None, str | None, int, bool], int] = field(default_factory=dict)
    skipped: int = 0

    @property
    def events(self) -> int:
        return sum(self.tally.values())

    def _group(self, key: Callable[[str | None, str | None], Any]) -> dict[Any, Counts]:
        out: dict[Any, Counts] = {}
        for (ip, sub, kind, hard), v in self.tally.items():
            k = key(ip, sub)
            c = out.get(k)
            if c is None:
                c = out[k] = Counts()
            if kind == Kind.DELIVERED:
                c.delivered += v
            elif kind == Kind.BOUNCED:
                c.bounced += v
                if hard:
                    c.hard += v
                else:
                    c.soft += v
            elif kind == Kind.DEFERRED:
                c.deferred += v
            elif kind == Kind.COMPLAINED:
                c.complaints += v
        return out

    @property
    def per_ip(self) -> dict[str, Counts]:
        """Attributed counts per IP (sorted by IP)."""
        g = self._group(lambda ip, _sub: ip)
        return {ip: g[ip] for ip in sorted(k for k in g if k is not None)}

    @property
    def unattributed(self) -> Counts:
        """Counts of events whose line names no IP that the map resolves."""
        return self._group(lambda ip, _sub: ip).get(None, Counts())

    @property
    def totals(self) -> Counts:
        return self._group(lambda _ip, _sub: None).get(None, Counts())

    def per_key(self) -> dict[tuple[str | None, str | None], Counts]:
        """Counts per (ip, subuser), the engine's monitored key."""
        g = self._group(lambda ip, sub: (ip, sub))
        return {k: g[k] for k in sorted(g, key=lambda k: (k[0] or "", k[1] or ""))}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: per-IP counts, unattributed, totals, and the map used."""
        return {
            "format": self.format,
            "lines": self.lines,
            "events": self.events,
            "skipped": self.skipped,
            "per_ip": {ip: c.as_dict() for ip, c in self.per_ip.items()},
            "unattributed": self.unattributed.as_dict(),
            "totals": self.totals.as_dict(),
            "per_key": [
                {"ip": ip, "subuser": sub, **c.as_dict()} for (ip, sub), c in self.per_key().items()
            ],
            "ip_map": dict(self.ip_map),
        }


# --------------------------------------------------------------------------- renderers


_MON = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SIZES = tuple(str(s) for s in range(18_000, 90_000, 1_237))
_KIND_NAMES = {k: k.name.lower() for k in Kind}


def _pmta_time(sec: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+0000", time.gmtime(sec))


def _syslog_time(sec: int) -> str:
    tm = time.gmtime(sec)
    return f"{_MON[tm.tm_mon]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"


def _rfc3339_prefix(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


class _Sink:
    """A file-like ``write`` that collects csv.writer rows into a list."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


def _classify(status: str, diag: str) -> str:
    """Outcome type of a response, for bounceCat / bounce_classification."""
    s = status
    if s.startswith(("5.1.", "4.1.")):
        return "hard" if s[0] == "5" else "other"
    if s in ("5.2.1", "4.2.1"):
        return "inactive"
    if s.endswith(".2.2"):
        return "quota" if s[0] == "5" else "defer_quota"
    if s[0:1] == "4":
        return "defer_rate"
    if s.startswith("5.7."):
        low = diag.lower()
        if any(w in low for w in ("spam", "unsolicited", "block list", "blocked using")):
            return "spam"
        return "policy"
    return "other"


class _Renderer:
    fmt = ""

    def __init__(self, scenario: Scenario | None, seed: int, truth: Truth | None) -> None:
        self.scenario = scenario or Scenario.default()
        self.rng = random.Random(seed)
        self.ip_map = self.scenario.ip_map(self.fmt) if self.fmt else {}
        self.truth = truth if truth is not None else Truth(self.fmt, dict(self.ip_map))
        self.by_ip = {p.ip: p for p in self.scenario.ips}
        self.by_dom = {d.name: d for d in self.scenario.domains}
        self._class_cache: dict[str, str] = {}
        self._last_sec = -1
        self._last_stamp = ""

    def domain(self, name: str) -> Domain:
        d = self.by_dom.get(name)
        if d is None:
            d = Domain(name, 0, f"mx.{name or 'invalid'}", "192.0.2.25", "generic")
            self.by_dom[name] = d
        return d

    def classify(self, status: str, diag: str) -> str:
        c = self._class_cache.get(diag)
        if c is None:
            c = self._class_cache[diag] = _classify(status, diag)
        return c

    def count(self, ip: str | None, sub: str | None, kind: int, hard: bool) -> None:
        key = (ip, sub, kind, bool(hard) and kind == Kind.BOUNCED)
        tally = self.truth.tally
        tally[key] = tally.get(key, 0) + 1

    def render(self, events: Iterable[Event]) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self, lines: list[str]) -> list[str]:
        self.truth.lines += len(lines)
        return lines


class _PmtaRenderer(_Renderer):
    fmt = "pmta"

    def __init__(
        self,
        scenario: Scenario | None,
        seed: int,
        truth: Truth | None,
        header: Sequence[str] | None = None,
        shuffle_columns: bool = False,
        blank_source_ip: float = 0.25,
        header_every: int = 0,
    ) -> None:
        super().__init__(scenario, seed, truth)
        cols = list(header) if header is not None else list(PMTA_HEADER)
        unknown = [c for c in cols if c not in PMTA_HEADER]
        if unknown:
            raise ValueError(f"unknown PowerMTA columns: {', '.join(unknown)}")
        if "type" not in cols or "timeLogged" not in cols:
            raise ValueError("a PowerMTA header needs the type and timeLogged columns")
        if len(set(cols)) != len(cols):
            raise ValueError("duplicate PowerMTA column")
        if shuffle_columns:
            rest = [c for c in cols if c != "type"]
            self.rng.shuffle(rest)
            cols = ["type", *rest]
        self.columns = cols
        pos = {name: i for i, name in enumerate(PMTA_HEADER)}
        self.index = None if cols == list(PMTA_HEADER) else [pos[c] for c in cols]
        self.has = set(cols)
        self.blank_source_ip = blank_source_ip
        self.header_every = header_every
        self.since_header = 0
        self.header_sent = False
        self._sink = _Sink()
        self._queued_cache: dict[int, str] = {}

    def _time(self, sec: int) -> str:
        if sec == self._last_sec:
            return self._last_stamp
        self._last_sec = sec
        self._last_stamp = _pmta_time(sec)
        return self._last_stamp

    def _queued(self, sec: int) -> str:
        s = self._queued_cache.get(sec)
        if s is None:
            if len(self._queued_cache) > 4096:
                self._queued_cache.clear()
            s = self._queued_cache[sec] = _pmta_time(sec)
        return s

    def render(self, events: Iterable[Event]) -> list[str]:
        sink = self._sink
        sink.lines = lines = []
        sink.write = lines.append
        # csv.writer binds ``write`` when created: one writer per call, on this call's list.
        writerow = csv.writer(sink, lineterminator="").writerow
        rnd = self.rng.random
        getbits = self.rng.getrandbits
        by_ip = self.by_ip
        domain = self.domain
        index = self.index
        has_src = "dlvSourceIp" in self.has
        has_vmta = "vmta" in self.has
        has_rep = "repSourceIp" in self.has
        ip_map = self.ip_map
        count = self.count
        blank = self.blank_source_ip
        every = self.header_every
        header = self.columns
        esmtp = "ENHANCEDSTATUSCODES,PIPELINING,8BITMIME,SMTPUTF8"
        src_mta = "pmta1.example.net (10.0.0.5)"
        n_sizes = len(_SIZES)
        if not self.header_sent:
            writerow(header)
            self.header_sent = True
        for ev in events:
            if every and self.since_header >= every:
                writerow(header)  # a pipe target restarting mid-stream
                self.since_header = 0
            ts, kind, ip, sub, hard, dom_name, status, diag = ev[:8]
            sec = int(ts)
            tl = self._time(sec)
            p = by_ip.get(ip) if ip else None
            vmta = p.vmta if p else ""
            pool = (p.pool or "") if p else ""
            tenant = sub or "acme"
            dom = domain(dom_name)
            rcpt = f"u{getbits(28):07x}@{dom_name}"
            orig = f"bounces@{tenant}.example"
            job = f"{tenant}-news"
            mta = f"{dom.mx} ({dom.mx_ip})"
            queue = f"{dom_name}/{vmta}"
            src_ip = ip or ""
            if kind == Kind.DELIVERED:
                text = _TEXTS.get(dom.family, _TEXTS["generic"])["ok"]
                row = [
                    "d", tl, tl, orig, rcpt, "", "relayed", "2.0.0 (success)",
                    f"smtp;{text}", mta, "", "smtp", src_mta, "smtp", src_ip, dom.mx_ip,
                    esmtp, _SIZES[int(rnd() * n_sizes)], vmta, job, "", queue, pool,
                    "", "", "",
                ]  # fmt: skip
                line_ip = src_ip if has_src else ""
            elif kind == Kind.COMPLAINED:
                fmt_ = "jmrp" if dom.family == "microsoft" else "arf"
                row = [
                    "f", tl, "", orig, rcpt, "", "", "", "", "", "", "", "", "", "", "",
                    "", "", "", job, "", "", "", src_ip, "abuse", fmt_,
                ]  # fmt: skip
                line_ip = src_ip if has_rep else ""
                vmta = ""
            else:
                typ = self.classify(status, diag)
                cat = _CATEGORY[typ][0]
                stext = _STATUS_TEXT.get(status, "other or undefined status")
                if kind == Kind.BOUNCED:
                    rtype, action = "b", "failed"
                    tq = tl
                    if rnd() < blank:
                        src_ip = ""  # attribution needs the vmta through the map
                else:
                    rtype, action = "t", "delayed"
                    tq = self._queued(sec - 600 - int(rnd() * 3000))
                row = [
                    rtype, tl, tq, orig, rcpt, "", action, f"{status} ({stext})",
                    f"smtp;{diag}", mta, cat, "smtp", src_mta, "smtp", src_ip, dom.mx_ip,
                    esmtp, "", vmta, job, "", queue, pool, "", "", "",
                ]  # fmt: skip
                line_ip = src_ip if has_src else ""
            if not line_ip and has_vmta and vmta:
                line_ip = ip_map.get(vmta, "")
            count(line_ip or None, (vmta or None) if has_vmta else None, kind, hard)
            writerow(row if index is None else [row[i] for i in index])
            self.since_header += 1
        return self.finish(lines)


class _PostfixRenderer(_Renderer):
    fmt = "postfix"

    def __init__(
        self,
        scenario: Scenario | None,
        seed: int,
        truth: Truth | None,
        style: str = "classic",
        transports: Mapping[str, str] | None = None,
        noise: float = 0.2,
        ndr: bool = True,
        host: str | None = None,
    ) -> None:
        if style not in ("classic", "rfc3339"):
            raise ValueError(f"postfix style must be classic or rfc3339, not {style!r}")
        super().__init__(scenario, seed, truth)
        self.style = style
        # IP -> syslog name (the transport's -o syslog_name=...)
        self.transports = (
            dict(transports)
            if transports is not None
            else {p.ip: p.syslog_name for p in self.scenario.ips}
        )
        self.ip_map = {name: ip for ip, name in self.transports.items()}
        self.truth.ip_map = dict(self.ip_map)
        self.noise = noise
        self.ndr = ndr
        self.host = host or self.scenario.host
        self.qid = self.rng.getrandbits(36) | (1 << 39)
        self.pid = 4000 + self.rng.randrange(20000)
        self.pids: dict[str, list[int]] = {}  # tag -> [pid, uses left]
        self.qmgr_pid = self._new_pid()
        self.cleanup_pid = self._new_pid()
        self.bounce_pid = self._new_pid()
        self.delays = [_delays(self.rng) for _ in range(64)]

    def _new_pid(self) -> int:
        self.pid += 1 + int(self.rng.random() * 7)
        if self.pid > 4_000_000:
            self.pid = 1000
        return self.pid

    def _smtp_pid(self, tag: str) -> int:
        slot = self.pids.get(tag)
        if slot is None or slot[1] <= 0:
            slot = self.pids[tag] = [self._new_pid(), 100]  # smtp(8) max_use
        slot[1] -= 1
        return slot[0]

    def _next_qid(self) -> str:
        self.qid += 1 + int(self.rng.random() * 97)
        return f"{self.qid & 0xFFFFFFFFFF:010X}"

    def _stamp(self, ts: float) -> str:
        sec = int(ts)
        if sec != self._last_sec:
            self._last_sec = sec
            self._last_stamp = (
                _syslog_time(sec) if self.style == "classic" else _rfc3339_prefix(sec)
            )
        if self.style == "classic":
            return self._last_stamp
        return f"{self._last_stamp}.{int((ts - sec) * 1e6):06d}+00:00"

    def render(self, events: Iterable[Event]) -> list[str]:
        lines: list[str] = []
        out = lines.append
        rnd = self.rng.random
        getbits = self.rng.getrandbits
        transports = self.transports
        domain = self.domain
        count = self.count
        host = self.host
        noise = self.noise
        delays = self.delays
        n_delays = len(delays)
        for ev in events:
            ts, kind, ip, _sub, hard, dom_name, status, diag = ev[:8]
            if kind == Kind.COMPLAINED:
                self.truth.skipped += 1  # Postfix logs no feedback loop
                continue
            stamp = self._stamp(ts)
            pre = f"{stamp} {host} postfix/"
            dom = domain(dom_name)
            tag = transports.get(ip or "", "postfix")
            attributed = ip if tag != "postfix" else None
            qid = self._next_qid()
            tenant = _sub or "acme"
            sender = f"bounces@{tenant}.example"
            rcpt = f"u{getbits(28):07x}@{dom_name}"
            noisy = rnd() < noise
            if noisy:
                size = _SIZES[int(rnd() * len(_SIZES))]
                out(f"{pre}cleanup[{self.cleanup_pid}]: {qid}: message-id=<{qid}@{tenant}.example>")
                out(
                    f"{pre}qmgr[{self.qmgr_pid}]: {qid}: from=<{sender}>, size={size}, "
                    "nrcpt=1 (queue active)"
                )
            smtp = (
                f"{stamp} {host} {tag}/smtp[{self._smtp_pid(tag)}]: {qid}: to=<{rcpt}>, "
                f"relay={dom.mx}[{dom.mx_ip}]:25, "
            )
            delay = delays[int(rnd() * n_delays)]
            if kind == Kind.DELIVERED:
                text = _TEXTS.get(dom.family, _TEXTS["generic"])["ok"]
                dsn = _enhanced(text) or "2.0.0"
                out(f"{smtp}{delay}, dsn={dsn}, status=sent ({text})")
            elif kind == Kind.BOUNCED:
                cmd = "end of DATA command" if status.startswith("5.7.") else "RCPT TO command"
                out(
                    f"{smtp}{delay}, dsn={status or '5.0.0'}, status=bounced "
                    f"(host {dom.mx}[{dom.mx_ip}] said: {diag} (in reply to {cmd}))"
                )
            else:
                cmd = "MAIL FROM command" if diag.startswith("421") else "RCPT TO command"
                out(
                    f"{smtp}{delay}, dsn={status or '4.0.0'}, status=deferred "
                    f"(host {dom.mx}[{dom.mx_ip}] said: {diag} (in reply to {cmd}))"
                )
            count(attributed, None, kind, hard)
            if kind != Kind.DEFERRED and noisy:
                out(f"{pre}qmgr[{self.qmgr_pid}]: {qid}: removed")
            if kind == Kind.BOUNCED and self.ndr:
                # The non-delivery notice goes out through the default transport: a real
                # delivery that belongs to no mapped IP.
                nqid = self._next_qid()
                if noisy:
                    out(f"{pre}cleanup[{self.cleanup_pid}]: {nqid}: message-id=<{nqid}@{host}>")
                out(
                    f"{pre}bounce[{self.bounce_pid}]: {qid}: "
                    f"sender non-delivery notification: {nqid}"
                )
                if noisy:
                    out(
                        f"{pre}qmgr[{self.qmgr_pid}]: {nqid}: from=<>, size=4108, "
                        "nrcpt=1 (queue active)"
                    )
                out(
                    f"{pre}smtp[{self._smtp_pid('postfix')}]: {nqid}: to=<{sender}>, "
                    f"relay=mx.{tenant}.example[192.0.2.10]:25, "
                    f"{delays[int(rnd() * n_delays)]}, dsn=2.0.0, "
                    f"status=sent (250 2.0.0 Ok: queued as {nqid[:6]}x)"
                )
                count(None, None, Kind.DELIVERED, False)
                if noisy:
                    out(f"{pre}qmgr[{self.qmgr_pid}]: {nqid}: removed")
        return self.finish(lines)


def _delays(rng: random.Random) -> str:
    """``delay=N, delays=a/b/c/d`` as Postfix logs them (c: connection setup, d: transfer)."""
    a, b = round(rng.random() * 0.05, 2), round(rng.random() * 0.02, 2)
    c, d = round(rng.random() * 0.3, 2), round(0.05 + rng.random() * 0.8, 2)
    return f"delay={a + b + c + d:.2f}, delays={a:g}/{b:g}/{c:g}/{d:g}"


class _KumoRenderer(_Renderer):
    fmt = "kumo"

    def __init__(
        self,
        scenario: Scenario | None,
        seed: int,
        truth: Truth | None,
        no_source_address: float = 0.15,
    ) -> None:
        super().__init__(scenario, seed, truth)
        self.no_source_address = no_source_address
        self._resp_cache: dict[str, str] = {}

    def _response(self, diag: str, status: str) -> str:
        r = self._resp_cache.get(diag)
        if r is None:
            code = int(diag[:3]) if diag[:3].isdigit() else 0
            content = diag[4:] if len(diag) > 4 and diag[3] in " -" else diag
            if status and content.startswith(status + " "):
                content = content[len(status) + 1 :]  # parsed out into enhanced_code
            if status:
                c, s, d = status.split(".")
                enh = f'{{"class":{c},"subject":{s},"detail":{d}}}'
            else:
                enh = "null"
            cmd = "."
            if code >= 400:
                cmd = "MAIL FROM" if code == 421 or status.startswith("5.7.") else "RCPT TO"
            r = (
                f'{{"code":{code},"enhanced_code":{enh},"content":{json.dumps(content)},'
                f'"command":"{cmd}"}}'
            )
            self._resp_cache[diag] = r
        return r

    def render(self, events: Iterable[Event]) -> list[str]:
        lines: list[str] = []
        out = lines.append
        rnd = self.rng.random
        getbits = self.rng.getrandbits
        by_ip = self.by_ip
        domain = self.domain
        count = self.count
        ip_map = self.ip_map
        nosrc = self.no_source_address
        n_sizes = len(_SIZES)
        for ev in events:
            ts, kind, ip, sub, hard, dom_name, status, diag = ev[:8]
            p = by_ip.get(ip) if ip else None
            dom = domain(dom_name)
            tenant = sub
            meta = f'{{"tenant":{json.dumps(tenant)}}}' if tenant else "{}"
            pool = json.dumps(p.pool) if p and p.pool else "null"
            source = json.dumps(p.kumo_source) if p else "null"
            rcpt = f"u{getbits(28):07x}@{dom_name}"
            sender = f"bounces@{tenant or 'acme'}.example"
            sec = int(ts)
            mid = f"{getbits(128):032x}"
            size = _SIZES[int(rnd() * n_sizes)]
            with_src = ip is not None and kind != Kind.COMPLAINED and rnd() >= nosrc
            if kind == Kind.COMPLAINED:
                fb_fmt = "jmrp" if dom.family == "microsoft" else "arf"
                fb = (
                    f'{{"feedback_type":"abuse","user_agent":"{dom.family}-fbl/1.0",'
                    f'"version":"1","arrival_date":{sec},"source_ip":{json.dumps(ip)},'
                    f'"original_mail_from":"{sender}","original_rcpt_to":"{rcpt}",'
                    f'"reporting_mta":"dns; {dom.mx}","format":"{fb_fmt}"}}'
                )
                line = (
                    f'{{"type":"Feedback","id":"{mid}","sender":"{sender}",'
                    f'"recipient":"{rcpt}","queue":"{dom_name}","site":"","size":{size},'
                    f'"response":{{"code":250,"enhanced_code":null,"content":"","command":null}},'
                    f'"peer_address":null,"timestamp":{sec},"created":{sec},"num_attempts":0,'
                    f'"bounce_classification":"Uncategorized","egress_pool":{pool},'
                    f'"egress_source":{source},"feedback_report":{fb},"meta":{meta},'
                    f'"headers":{{}}}}'
                )
            else:
                if kind == Kind.DELIVERED:
                    typ_name, attempts, cls = "Delivery", 0, "Uncategorized"
                    resp = self._response(_TEXTS.get(dom.family, _TEXTS["generic"])["ok"], "2.0.0")
                else:
                    if kind == Kind.BOUNCED:
                        typ_name, attempts = "Bounce", 1
                    else:
                        typ_name, attempts = "TransientFailure", 1 + int(rnd() * 3)
                    cls = _CATEGORY[self.classify(status, diag)][1]
                    resp = self._response(diag, status)
                src = (
                    f',"source_address":{{"address":"{ip}:{1024 + int(rnd() * 64000)}",'
                    f'"protocol":"tcp"}}'
                    if with_src
                    else ""
                )
                line = (
                    f'{{"type":"{typ_name}","id":"{mid}","sender":"{sender}",'
                    f'"recipient":"{rcpt}","queue":"{dom_name}","site":"{dom.mx}:25",'
                    f'"size":{size},"response":{resp},'
                    f'"peer_address":{{"name":"{dom.mx}","addr":"{dom.mx_ip}"}},'
                    f'"timestamp":{sec},"created":{sec - attempts * 300},'
                    f'"num_attempts":{attempts},"bounce_classification":"{cls}",'
                    f'"egress_pool":{pool},"egress_source":{source}{src},'
                    f'"feedback_report":null,"meta":{meta},"headers":{{}}}}'
                )
            attributed = ip if with_src else (ip_map.get(p.kumo_source) if p else None)
            count(attributed, tenant, kind, hard)
            out(line)
        return self.finish(lines)


class _JsonlRenderer(_Renderer):
    fmt = "jsonl"

    def __init__(self, scenario: Scenario | None, seed: int, truth: Truth | None) -> None:
        super().__init__(scenario, seed, truth)
        self._esc: dict[str | None, str] = {None: "null"}

    def _j(self, s: str | None) -> str:
        e = self._esc.get(s)
        if e is None:
            if len(self._esc) > 100_000:
                self._esc = {None: "null"}
            e = self._esc[s] = json.dumps(s)
        return e

    def render(self, events: Iterable[Event]) -> list[str]:
        lines: list[str] = []
        out = lines.append
        j = self._j
        count = self.count
        for ev in events:
            ts, kind, ip, sub, hard, dom, status, diag = ev[:8]
            hard = bool(hard) and kind == Kind.BOUNCED
            out(
                f'{{"ts":{ts:.3f},"kind":"{_KIND_NAMES[kind]}","ip":{j(ip)},'
                f'"subuser":{j(sub)},"hard":{"true" if hard else "false"},'
                f'"rcpt_domain":{j(dom)},"status":{j(status)},"diag":{j(diag)}}}'
            )
            count(ip, sub, kind, hard)
        return self.finish(lines)


def _renderer(
    fmt: str, scenario: Scenario | None, seed: int, truth: Truth | None, **options: Any
) -> _Renderer:
    if fmt == "pmta":
        return _PmtaRenderer(scenario, seed, truth, **options)
    if fmt == "postfix":
        return _PostfixRenderer(scenario, seed, truth, **options)
    if fmt == "kumo":
        return _KumoRenderer(scenario, seed, truth, **options)
    if fmt == "jsonl":
        return _JsonlRenderer(scenario, seed, truth, **options)
    raise ValueError(f"unknown format {fmt!r} (pmta, postfix, kumo or jsonl)")


def _render_iter(r: _Renderer, events: Iterable[Event], chunk: int = 4096) -> Iterator[str]:
    it = iter(events)
    while True:
        batch = list(islice(it, chunk))
        yield from r.render(batch)  # the first call writes a header even with no events
        if len(batch) < chunk:
            return


def render_pmta(
    events: Iterable[Event],
    header: Sequence[str] | None = None,
    *,
    scenario: Scenario | None = None,
    shuffle_columns: bool = False,
    blank_source_ip: float = 0.25,
    header_every: int = 0,
    seed: int = 0,
    truth: Truth | None = None,
) -> Iterator[str]:
    """PowerMTA accounting CSV lines (header first), without newlines.

    ``header``: the columns to write, any subset/order of :data:`PMTA_HEADER` (must hold
    ``type`` and ``timeLogged``). ``shuffle_columns`` shuffles all but ``type``.
    ``blank_source_ip``: fraction of ``b`` rows with an empty dlvSourceIp (the vmta still
    names the IP). ``header_every``: repeat the header every N rows (a pipe restarting).
    Complaints are ``f`` rows with ``repSourceIp``; deferrals ``t`` rows.
    """
    r = _PmtaRenderer(scenario, seed, truth, header, shuffle_columns, blank_source_ip, header_every)
    return _render_iter(r, events)


def render_postfix(
    events: Iterable[Event],
    style: str = "classic",
    transports: Mapping[str, str] | None = None,
    *,
    scenario: Scenario | None = None,
    noise: float = 0.2,
    ndr: bool = True,
    host: str | None = None,
    seed: int = 0,
    truth: Truth | None = None,
) -> Iterator[str]:
    """Postfix log lines, without newlines; ``style`` classic (``Nov 22 04:57:58``) or
    rfc3339 (``2026-11-22T04:57:58.123456+00:00``).

    ``transports`` maps IP -> syslog name (``postfix/out2``); by default the scenario's.
    An IP with no transport is logged by the plain ``postfix/smtp``. ``noise``: fraction
    of messages with their cleanup/qmgr lines. Each bounce makes a non-delivery notice,
    delivered by the plain ``postfix/smtp`` (an unattributed delivery) when ``ndr``.
    Complaints cannot be expressed in a Postfix log and are skipped.
    """
    r = _PostfixRenderer(scenario, seed, truth, style, transports, noise, ndr, host)
    return _render_iter(r, events)


def render_kumo(
    events: Iterable[Event],
    *,
    scenario: Scenario | None = None,
    no_source_address: float = 0.15,
    seed: int = 0,
    truth: Truth | None = None,
) -> Iterator[str]:
    """KumoMTA JSON log lines, without newlines. ``no_source_address``: fraction of
    records carrying only ``egress_source`` (attribution through the map); Feedback records
    never carry source_address."""
    r = _KumoRenderer(scenario, seed, truth, no_source_address)
    return _render_iter(r, events)


def render_jsonl(events: Iterable[Event], *, truth: Truth | None = None) -> Iterator[str]:
    """The project's JSON lines (ts, kind, ip, subuser, hard, rcpt_domain, status, diag)."""
    return _render_iter(_JsonlRenderer(None, 0, truth), events)


def write_file(
    fmt: str,
    path: str,
    events: Iterable[Event],
    *,
    scenario: Scenario | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    chunk: int = 8192,
    **options: Any,
) -> Truth:
    """Render ``events`` as ``fmt`` into ``path`` (overwritten), streaming; return the truth.

    ``options`` go to the format's renderer (see the ``render_*`` functions; for postfix:
    ``style``, ``transports``, ``noise``, ``ndr``, ``host``). ``progress`` is called with
    the number of events consumed so far after each chunk. Raises OSError when ``path``
    cannot be written, ValueError on a bad option.
    """
    r = _renderer(fmt, scenario, seed, None, **options)
    it = iter(events)
    done = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        write = f.write
        while True:
            batch = list(islice(it, chunk))
            lines = r.render(batch)
            if lines:
                write("\n".join(lines))
                write("\n")
            if not batch:
                break
            done += len(batch)
            if progress is not None:
                progress(done)
    return r.truth


# --------------------------------------------------------------------------- live feed


class LiveFeed:
    """Lines for ``--demo``: new traffic since the last call, at ``rate_per_s``.

    The story, in seconds since ``start`` (default: the first call's ``now``): the bad IP's
    blocks climb over :data:`LIVE_RAMP` to ~20% bounces; the recovering (critical) IP drops
    to healthy at :data:`LIVE_RECOVER_AT`. Deterministic given the sequence of ``now``
    values. A gap longer than ``max_gap`` (a suspended laptop) is not back-filled beyond
    ``max_gap`` seconds.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        seed: int = 1,
        rate_per_s: float = 50.0,
        *,
        start: float | None = None,
        ramp: tuple[float, float] = LIVE_RAMP,
        recover_at: float = LIVE_RECOVER_AT,
        max_gap: float = 60.0,
        postfix_style: str = "classic",
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.scenario = scenario or Scenario.default()
        self.seed = seed
        self.rate = float(rate_per_s)
        self.start = start
        self.ramp = ramp
        self.recover_at = recover_at
        self.max_gap = max_gap
        self.postfix_style = postfix_style
        self._model = _Model(self.scenario)
        self._rng = random.Random(seed)
        self._last: float | None = start
        self._due = 0  # events owed since start, emitted or skipped
        self._renderers: dict[str, _Renderer] = {}

    def elapsed(self, now: float) -> float:
        return 0.0 if self.start is None else now - self.start

    def bounce_rate(self, ip: str, elapsed: float) -> float:
        """The model's bounce rate of ``ip`` at ``elapsed`` seconds into the story."""
        p = self.scenario.profile(ip)
        return p.list_bounce + p.block_at_live(elapsed, self.ramp, self.recover_at)

    def events_until(self, now: float) -> list[Event]:
        """The events in (last call, now]."""
        if self.start is None:
            self.start = now
        if self._last is None:
            self._last = self.start
        if now <= self._last:
            return []
        due = int((now - self.start) * self.rate)
        k = due - self._due
        self._due = due
        lo = self._last
        self._last = now
        if k <= 0:
            return []
        if now - lo > self.max_gap:
            lo = now - self.max_gap
            k = min(k, int(self.max_gap * self.rate))
        mid = (lo + now) / 2 - self.start
        blocks = [p.block_at_live(mid, self.ramp, self.recover_at) for p in self._model.profiles]
        thr = self._model.thresholds(blocks)
        rnd = self._rng.random
        step = (now - lo) / k
        stamps = [lo + (i + rnd()) * step for i in range(k)]
        return self._model.draw(self._rng, stamps, thr)

    def renderer(self, fmt: str) -> _Renderer:
        r = self._renderers.get(fmt)
        if r is None:
            opts: dict[str, Any] = {}
            if fmt == "postfix":
                opts["style"] = self.postfix_style
            r = self._renderers[fmt] = _renderer(fmt, self.scenario, self.seed, None, **opts)
        return r

    def lines_until(self, fmt: str, now: float) -> list[str]:
        """New lines of ``fmt`` (without newlines) for the traffic in (last call, now].
        The first pmta call starts with the header line."""
        r = self.renderer(fmt)
        return r.render(self.events_until(now))

    def truth(self, fmt: str) -> Truth:
        """What the lines of ``fmt`` handed out so far hold."""
        return self.renderer(fmt).truth


__all__ = [
    "DEFAULT_DOMAINS",
    "DEMO_MONITOR",
    "FORMATS",
    "PMTA_COMMON_HEADER",
    "PMTA_HEADER",
    "Counts",
    "Domain",
    "IpProfile",
    "LiveFeed",
    "Scenario",
    "Truth",
    "generate_events",
    "render_jsonl",
    "render_kumo",
    "render_pmta",
    "render_postfix",
    "write_file",
]
