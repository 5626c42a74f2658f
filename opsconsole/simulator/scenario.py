"""The sending side of a simulation: IP profiles, recipient domains, the scenario."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from opsconsole.core.sources import FORMATS

Format = Literal["pmta", "postfix", "kumo", "jsonl"]
Trend = Literal["steady", "worsening", "recovering"]

# Story of a batch file, as a fraction of its span: the bad IP degrades over this part.
BATCH_RAMP: tuple[float, float] = (0.5, 0.8)


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
    # (provider, block rate there): blocked at one mailbox provider, e.g. (("microsoft", 0.39),)
    provider_block: tuple[tuple[str, float], ...] = ()

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


# spec 11's scenario: microsoft 10% of recipients, the rest spread over other providers.
PROVIDER_SPLIT_DOMAINS: tuple[Domain, ...] = (
    Domain("gmail.com", 40, "gmail-smtp-in.l.google.com", "142.250.153.26", "google"),
    Domain("yahoo.com", 20, "mta6.am0.yahoodns.net", "67.195.204.77", "yahoo"),
    Domain("outlook.com", 5, "outlook-com.olc.protection.outlook.com", "52.101.42.4", "microsoft"),
    Domain("hotmail.com", 3, "hotmail-com.olc.protection.outlook.com", "52.101.11.0", "microsoft"),
    Domain("icloud.com", 12, "mx01.mail.icloud.com", "17.57.154.33", "apple"),
    Domain("comcast.net", 10, "mx2c1.comcast.net", "96.114.157.81", "generic"),
    Domain("example.org", 8, "mx.example.org", "192.0.2.25", "generic"),
)


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
    def provider_split(
        cls, blocked: str = "203.0.113.4", everywhere: str = "203.0.113.5", pool: str = "main"
    ) -> Scenario:
        """Spec 11's story: ``blocked`` bounces 40% at microsoft and 1% elsewhere (under the
        warning line as a whole), ``everywhere`` 20% at every provider. Microsoft is 8% of
        the recipients (outlook.com, hotmail.com), so the first IP averages about 4.2%."""

        def ip(n: int, addr: str, **kw: Any) -> IpProfile:
            return IpProfile(
                ip=addr, pool=pool, vmta=f"vmta-{pool}{n}", syslog_name=f"postfix/out{n}",
                kumo_source=f"{pool}{n}", deferral=0.0, complaint=0.0, **kw,
            )  # fmt: skip

        return cls(
            ips=(
                ip(1, blocked, list_bounce=0.005, block=0.005, block_start=0.005,
                   provider_block=(("microsoft", 0.395),)),
                ip(2, everywhere, list_bounce=0.01, block=0.19, block_start=0.19),
            ),
            domains=PROVIDER_SPLIT_DOMAINS,
        )  # fmt: skip

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
        named: tuple[tuple[str, str | None], ...] = (
            ("bad", bad),
            ("warning", warning),
            ("critical", critical),
            ("recovering", recovering),
        )
        for name, maybe in named:
            if maybe is not None and maybe not in all_ips:
                raise ValueError(f"{name} IP {maybe} is not one of the scenario's IPs")
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

    def with_provider_block(self, ip: str, provider: str, block: float) -> Scenario:
        """This scenario with ``ip`` blocked at ``provider`` only (rate ``block`` there)."""
        from dataclasses import replace

        p = self.profile(ip)
        prof = replace(p, provider_block=(*p.provider_block, (provider, block)))
        return replace(self, ips=tuple(prof if x.ip == ip else x for x in self.ips))

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
