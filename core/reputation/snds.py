"""Microsoft SNDS: the daily usage export, the blocked-IP status export, and what they mean.

Both exports are header-less CSV read by column position, fetched with the operator's
Automated Data Access key. The parser is defensive because the export is not a contract: a
row that does not fit is reported as a problem and skipped, never fatal, and both the rows
and the problems are bounded. The key authenticates by URL, so it must never reach an error
message or a log line: fetch failures carry a short reason with the key redacted and no
chained exception (httpx errors embed the URL).
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx

from opsconsole.core.reputation.zones import SEVERITY_RANK, AlertSeverity

Kind = Literal["data", "ipStatus"]
FILTERS = ("GREEN", "YELLOW", "RED")
DEFAULT_BASE_URL = "https://sendersupport.olc.protection.outlook.com/snds/"
SNDS_FILTER = "snds_filter"
SNDS_BLOCKED = "snds_blocked"
MAX_ROWS = 100_000
MAX_PROBLEMS = 50
MAX_LINE = 4096


@dataclass(frozen=True, slots=True)
class SndsConfig:
    key: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One usage row. ``complaint_rate`` is a fraction; ``complaint_below`` marks "< x%"."""

    ip: str
    activity_start: str
    activity_end: str
    day: str | None  # ISO date of activity_start when it parses
    rcpt_commands: int
    data_commands: int
    recipients: int
    filter: str  # GREEN | YELLOW | RED
    complaint_rate: float | None
    complaint_below: bool
    trap_start: str
    trap_end: str
    trap_hits: int
    sample_helo: str = ""
    sample_mail_from: str = ""
    comments: str = ""


@dataclass(frozen=True, slots=True)
class BlockedRange:
    first_ip: str
    last_ip: str
    blocked: bool
    reason: str

    def contains(self, ip: str) -> bool:
        try:
            a = ipaddress.ip_address(ip)
            lo, hi = ipaddress.ip_address(self.first_ip), ipaddress.ip_address(self.last_ip)
        except ValueError:
            return False
        return a.version == lo.version and lo <= a <= hi  # type: ignore[operator]  # same family


@dataclass(frozen=True, slots=True)
class SndsObservation:
    """A microsoft-scoped alert input for one IP (or one blocked range)."""

    rule: str
    ip: str
    provider: str
    severity: AlertSeverity
    title: str
    message: str
    day: str | None = None
    trap_hits: int = 0


class SndsError(Exception):
    """A fetch failure; ``reason`` is short and never contains the key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.more = 0

    def add(self, line: int, what: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(f"line {line}: {what[:120]}")
        else:
            self.more += 1

    def done(self) -> list[str]:
        return self.items + ([f"... and {self.more} more problems"] if self.more else [])


def _lines(text: str, problems: _Problems) -> Iterable[tuple[int, list[str]]]:
    """Non-empty CSV records with their line numbers; HTML and overlong lines are problems."""
    if text.lstrip()[:1] == "<":
        problems.add(1, "not CSV (an HTML page: is the key right?)")
        return
    rows = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            problems.add(number, f"line longer than {MAX_LINE} characters")
            continue
        if rows >= MAX_ROWS:
            problems.add(number, f"stopped after {MAX_ROWS} rows")
            return
        rows += 1
        yield number, [f.strip() for f in next(csv.reader([line]))]


def _int(value: str) -> int:
    return int(value.replace(",", "")) if value else 0


def _complaint(value: str) -> tuple[float | None, bool]:
    v = value.replace(" ", "")
    if not v:
        return None, False
    below = v.startswith("<")
    return float(v.lstrip("<").rstrip("%")) / 100.0, below


def _day(stamp: str) -> str | None:
    for fmt in ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y"):
        try:
            return datetime.strptime(stamp, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def parse_usage(text: str) -> tuple[list[UsageRow], list[str]]:
    """The daily usage export -> (rows, problems). 14 columns; 11-13 are accepted (the
    sample columns are optional), more than 14 are taken as commas inside the comments."""
    problems = _Problems()
    rows: list[UsageRow] = []
    for number, f in _lines(text, problems):
        if len(f) < 11:
            problems.add(number, f"{len(f)} columns, expected 14")
            continue
        f = [*f[:13], ",".join(f[13:])] if len(f) > 14 else f + [""] * (14 - len(f))
        try:
            ip = str(ipaddress.ip_address(f[0]))
            counts = _int(f[3]), _int(f[4]), _int(f[5]), _int(f[10])
            complaint, below = _complaint(f[7])
        except ValueError as exc:
            problems.add(number, f"bad value ({exc})")
            continue
        flt = f[6].upper()
        if flt not in FILTERS:
            problems.add(number, f"unknown filter result {f[6]!r}")
            continue
        rows.append(
            UsageRow(
                ip=ip,
                activity_start=f[1],
                activity_end=f[2],
                day=_day(f[1]),
                rcpt_commands=counts[0],
                data_commands=counts[1],
                recipients=counts[2],
                filter=flt,
                complaint_rate=complaint,
                complaint_below=below,
                trap_start=f[8],
                trap_end=f[9],
                trap_hits=counts[3],
                sample_helo=f[11],
                sample_mail_from=f[12],
                comments=f[13],
            )
        )
    return rows, problems.done()


def parse_ipstatus(text: str) -> tuple[list[BlockedRange], list[str]]:
    """The IP status export (``first_ip,last_ip,Yes|No,reason``) -> (ranges, problems)."""
    problems = _Problems()
    ranges: list[BlockedRange] = []
    for number, f in _lines(text, problems):
        if len(f) < 3:
            problems.add(number, f"{len(f)} columns, expected 4")
            continue
        try:
            lo, hi = ipaddress.ip_address(f[0]), ipaddress.ip_address(f[1])
        except ValueError as exc:
            problems.add(number, f"bad address ({exc})")
            continue
        if lo.version != hi.version or lo > hi:  # type: ignore[operator]  # same family checked
            problems.add(number, "range end before its start")
            continue
        flag = f[2].lower()
        if flag not in ("yes", "no"):
            problems.add(number, f"unknown blocked flag {f[2]!r}")
            continue
        ranges.append(BlockedRange(str(lo), str(hi), flag == "yes", ",".join(f[3:])))
    return ranges, problems.done()


def _redact(text: str, key: str) -> str:
    return text.replace(key, "REDACTED") if key else text


async def fetch_snds(
    client: httpx.AsyncClient,
    config: SndsConfig,
    kind: Kind,
    date: str | None = None,
) -> str:
    """GET ``{base_url}data.aspx?key=KEY[&date=MMDDYY]`` or ``ipStatus.aspx?key=KEY``; the
    body text. Raises ``SndsError`` with a short reason (key redacted, no chained cause)."""
    url = config.base_url.rstrip("/") + ("/data.aspx" if kind == "data" else "/ipStatus.aspx")
    params = {"key": config.key} | ({"date": date} if date and kind == "data" else {})
    reason: str
    try:
        response = await client.get(url, params=params, timeout=config.timeout)
    except httpx.TimeoutException:
        reason = "timeout"
    except httpx.ConnectError:
        reason = "connection failed"
    except httpx.HTTPError as exc:
        reason = f"request failed ({type(exc).__name__})"
    else:
        if response.status_code == 200:
            return response.text
        reason = f"HTTP {response.status_code}"
    raise SndsError(_redact(f"SNDS {kind}: {reason}", config.key)) from None


def snds_observations(
    rows: Iterable[UsageRow], blocked: Iterable[BlockedRange] = ()
) -> list[SndsObservation]:
    """RED -> critical; YELLOW or trap hits -> warning; GREEN without traps -> nothing. One
    observation per IP (its worst row, traps summed); blocked ranges -> critical each."""
    worst: dict[str, tuple[AlertSeverity, list[UsageRow]]] = {}
    for row in rows:
        sev: AlertSeverity | None = (
            "critical" if row.filter == "RED" else
            "warning" if row.filter == "YELLOW" or row.trap_hits > 0 else None
        )  # fmt: skip
        if sev is None:
            continue
        prev = worst.get(row.ip)
        if prev is None:
            worst[row.ip] = (sev, [row])
        else:
            top = sev if SEVERITY_RANK[sev] > SEVERITY_RANK[prev[0]] else prev[0]
            worst[row.ip] = (top, [*prev[1], row])
    out: list[SndsObservation] = []
    for ip, (sev, ip_rows) in worst.items():
        filters = "/".join(dict.fromkeys(r.filter for r in ip_rows))
        traps = sum(r.trap_hits for r in ip_rows)
        day = ip_rows[0].day
        message = f"Microsoft SNDS filter result {filters} for {ip}" + (f" on {day}" if day else "")
        if traps:
            message += f"; {traps} spam trap hit{'s' if traps != 1 else ''}"
        title = f"SNDS {filters} for {ip}" + (f", {traps} trap hits" if traps else "")
        out.append(SndsObservation(SNDS_FILTER, ip, "microsoft", sev, title, message, day, traps))
    for r in blocked:
        if r.blocked:
            span = r.first_ip if r.first_ip == r.last_ip else f"{r.first_ip}-{r.last_ip}"
            out.append(
                SndsObservation(
                    SNDS_BLOCKED,
                    r.first_ip,
                    "microsoft",
                    "critical",
                    f"Microsoft blocks {span}",
                    f"Microsoft SNDS blocks {span}: {r.reason}",
                )
            )
    return out
