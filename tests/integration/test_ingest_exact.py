"""Issue 2 acceptance: files we did not write, ingested and reported exactly.

Every file here is produced by a small generator in this module (csv.writer for PowerMTA,
f-strings for Postfix) that keeps its own tally while it writes, so the expected numbers
never come from the project's parsers or simulator. Then the real command line runs in a
subprocess: ``opsconsole ingest`` and ``opsconsole report --since --until`` on a real SQLite
file, and the report's per-IP ``sent``/``bounced``/``deferred`` must equal the tally.

The simulator section does the same for all four formats with ``write_file``'s Truth.
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from opsconsole.simulator import Truth, generate_events, write_file

SECTION6_KEYS = {
    "generated_at", "since", "until", "window_seconds", "engine", "thresholds", "ips",
    "warmups", "pools", "alerts", "unattributed", "ingest",
}  # fmt: skip
IP_ROW_KEYS = {
    "ip", "subuser", "pool", "status", "sent", "delivered", "bounced", "hard_bounced",
    "soft_bounced", "deferred", "complaints", "bounce_rate", "complaint_rate",
    "deferral_rate", "severity",
}  # fmt: skip
# One row per IP (issue 10.3): the IP's totals and its subusers below it.
# ... and the fleet's host that read it last, and all hosts that did (issue 13.4).
# ... and an operator's hold-off and an engine removal's expiry (issue 12.3).
JSON_IP_KEYS = (IP_ROW_KEYS - {"subuser"}) | {"subusers", "host", "hosts"}
JSON_IP_KEYS |= {"holdoff_until", "holdoff_seconds", "reenable_at"}
SUBUSER_KEYS = IP_ROW_KEYS - {"ip", "pool", "status"}

# A fixed window a day in the past (minute aligned), so classic syslog stamps without a
# year resolve to this year and the report's [since, until) is reproducible.
T0 = (int(time.time()) - 86_400) // 3600 * 3600
T1 = T0 + 2 * 3600


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(params=["fast", "lines"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both PowerMTA paths of ``ingest``: the columnar backlog parser and the line parser
    (the CLI subprocesses inherit the switch)."""
    monkeypatch.setenv("OPSCONSOLE_INGEST_FAST", "1" if request.param == "fast" else "0")
    return str(request.param)


def cli(
    db: str, *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "opsconsole", "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"opsconsole {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def report(db: str, since: float = T0, until: float = T1) -> dict:
    out = cli(db, "report", "--format", "json", "--since", iso(since), "--until", iso(until))
    return json.loads(out.stdout)


def per_ip(rep: dict) -> dict[str, dict[str, int]]:
    """Report rows summed over subusers: ip -> sent/delivered/bounced/deferred/complaints."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rep["ips"]:
        for k in ("sent", "delivered", "bounced", "hard_bounced", "deferred", "complaints"):
            out[row["ip"]][k] += row[k]
    return {ip: dict(c) for ip, c in out.items()}


def expect(tally: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    """Our own tally (delivered/bounced/hard/deferred/complaints) in the report's terms."""
    return {
        ip: {
            "sent": c["delivered"] + c["bounced"],
            "delivered": c["delivered"],
            "bounced": c["bounced"],
            "hard_bounced": c["hard"],
            "deferred": c["deferred"],
            "complaints": c["complaints"],
        }
        for ip, c in tally.items()
        if ip is not None
    }


# --------------------------------------------------------------------------- PowerMTA

PMTA_IPS = {"vmta-a": "192.0.2.11", "vmta-b": "192.0.2.12", "vmta-c": "192.0.2.13"}
HEADER_1 = ["type", "vmta", "dlvSourceIp", "rcpt", "dsnStatus", "dsnDiag", "bounceCat",
            "timeLogged", "orig", "jobId"]  # fmt: skip
# A pipe target restarting: a different order, fewer and more columns (feedback loop fields).
HEADER_2 = ["type", "timeLogged", "bounceCat", "dsnDiag", "dsnStatus", "rcpt", "repSourceIp",
            "feedbackType", "dlvSourceIp", "vmta"]  # fmt: skip

HARD = [
    (
        "5.1.1",
        "bad-mailbox",
        "smtp;550 5.1.1 <{r}>: Recipient address rejected, user unknown, sorry",
    )
]
SOFT = [
    (
        "5.7.1",
        "spam-related",
        'smtp;550 5.7.1 Message rejected, "spam" detected, see https://x.test/a,b',
    ),
    ("5.2.2", "quota-issues", "smtp;552 5.2.2 Mailbox full, quota exceeded, try later"),
]
DEFER = ("4.2.2", "quota-issues", "smtp;452 4.2.2 Mailbox temporarily full, retry, please")


def write_pmta(path: Path, rng: random.Random, n: int = 3000) -> tuple[dict, Counter[str], int]:
    """A PowerMTA-style accounting file with traps; returns (tally by ip, unattributed, bad)."""
    tally: dict[str | None, Counter[str]] = defaultdict(Counter)
    garbage = 0
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = HEADER_1
    w.writerow(header)
    for i in range(n):
        if i == n // 2:
            header = HEADER_2
            w.writerow(header)  # mid-stream header, different columns
        if i % 97 == 13:
            garbage += 1  # malformed: wrong field count / unterminated quote / junk
            buf.write(
                rng.choice(["!!! not a csv record", 'd,"unterminated,2', "b,1,2,3", "\x00\x01\x02"])
                + "\n"
            )
        ts = rng.uniform(T0, T1 - 1)
        if i % 50 == 7:
            ts = T0 - rng.uniform(60, 3000)  # before --since: must not be counted
        vmta = rng.choice(list(PMTA_IPS))
        ip = PMTA_IPS[vmta]
        kind = rng.choices(["d", "b", "t", "f", "tq", "r"], [70, 14, 8, 2, 3, 3])[0]
        row = dict.fromkeys(header, "")
        logged = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S+0000")
        row.update(type=kind, timeLogged=logged, rcpt=f"u{i}@example.com", vmta=vmta)
        row.update(orig="bounce@s.test", jobId="j1")
        counted_ip: str | None = ip
        hard = False
        if kind == "d":
            row.update(
                dlvSourceIp=ip, dsnStatus="2.0.0 (success)", dsnDiag="smtp;250 2.0.0 OK, queued"
            )
            what = "delivered"
        elif kind == "b":
            hard = rng.random() < 0.5
            status, cat, diag = rng.choice(HARD if hard else SOFT)
            row.update(dsnStatus=f"{status} (x)", bounceCat=cat, dsnDiag=diag.format(r=row["rcpt"]))
            if rng.random() < 0.4:
                row["dlvSourceIp"] = ip
            elif rng.random() < 0.15:
                row["vmta"] = "vmta-unmapped"  # no IP and no map entry: unattributed
                counted_ip = None
            # else: empty dlvSourceIp, attributed through --ip-map vmta=IP
            what = "bounced"
        elif kind == "t":
            status, cat, diag = DEFER
            row.update(dlvSourceIp=ip, dsnStatus=f"{status} (x)", bounceCat=cat, dsnDiag=diag)
            what = "deferred"
        elif kind == "f":
            if "repSourceIp" not in header:
                kind = row["type"] = "d"
                row.update(dlvSourceIp=ip, dsnStatus="2.0.0 (success)", dsnDiag="smtp;250 ok")
                what = "delivered"
            else:
                row.update(repSourceIp=ip, feedbackType="abuse", vmta="", dlvSourceIp="")
                what = "complaints"
        else:  # tq, r: well-formed records that are no recipient outcome
            row.update(dlvSourceIp=ip)
            what = ""
        if rng.random() < 0.1 and kind in ("d", "b"):
            row["type"] = {"d": "delivery", "b": "bounce"}[kind]  # long record names
        w.writerow([row[c] for c in header])
        if what and ts >= T0:
            tally[counted_ip][what] += 1
            tally[counted_ip]["hard"] += hard
    path.write_text(buf.getvalue(), encoding="utf-8")
    unattributed = tally.pop(None, Counter())
    return dict(tally), unattributed, garbage


@pytest.mark.usefixtures("ingest_path")
def test_pmta_reordered_columns_unmapped_bounces_and_garbage(tmp_path: Path, db_url: str) -> None:
    rng = random.Random(20260302)
    path = tmp_path / "acct-2026.csv"
    tally, unattributed, garbage = write_pmta(path, rng)
    assert unattributed["bounced"] > 0 and garbage > 10
    db = db_url
    maps = [a for vmta, ip in PMTA_IPS.items() for a in ("--ip-map", f"{vmta}={ip}")]
    run = cli(db, "ingest", str(path), "--format", "pmta", *maps)
    assert f"{garbage:,} malformed" in run.stdout, run.stdout

    rep = report(db)
    assert set(rep) >= SECTION6_KEYS
    assert per_ip(rep) == expect(tally)
    assert rep["unattributed"]["bounced"] == unattributed["bounced"]
    (src,) = rep["ingest"]["sources"]
    assert src["malformed"] == garbage
    assert src["format"] == "pmta" and src["path"] == str(path)

    # Running the same command twice adds nothing.
    again = cli(db, "ingest", str(path), "--format", "pmta", *maps)
    assert again.stdout.startswith("read 0 lines"), again.stdout
    rep2 = report(db)
    assert rep2["ips"] == rep["ips"]
    assert rep2["ingest"]["sources"][0]["malformed"] == garbage

    # A window that ends before the first row sees only the early rows, none of the tally.
    early = report(db, T0 - 3600, T0)
    assert sum(r["sent"] + r["deferred"] for r in early["ips"]) > 0
    assert all(r["sent"] + r["deferred"] < 200 for r in early["ips"])


# --------------------------------------------------------------------------- Postfix

POSTFIX_MAP = {"postfix/out2": "192.0.2.22", "postfix-out3": "192.0.2.23"}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def classic(ts: float) -> str:
    t = datetime.fromtimestamp(ts, UTC)
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"


def rfc3339(ts: float) -> str:
    # A host two hours east of UTC: the offset must be honoured.
    t = datetime.fromtimestamp(ts, timezone(timedelta(hours=2)))
    return t.isoformat(timespec="microseconds")


def write_postfix(
    path: Path, rng: random.Random, style: str, n: int = 1500
) -> tuple[dict, Counter[str], int]:
    stamp = classic if style == "classic" else rfc3339
    tally: dict[str | None, Counter[str]] = defaultdict(Counter)
    garbage = 0
    lines: list[str] = []
    tags = {
        "postfix/out2/smtp": "192.0.2.22",
        "postfix-out3/smtp": "192.0.2.23",
        "postfix/smtp": None,
    }
    qid = 0x3A000000 + rng.randrange(1 << 20)
    for i in range(n):
        ts = T0 + (T1 - T0 - 60) * i / n + rng.random()
        s = stamp(ts)
        qid += rng.randrange(1, 50)
        q = f"{qid:X}"
        tag = rng.choices(list(tags), [45, 45, 10])[0]
        pid = 1000 + rng.randrange(9000)
        if rng.random() < 0.3:
            lines.append(
                f"{s} mail1 postfix/qmgr[88]: {q}: from=<b@s.test>, size=2048,"
                " nrcpt=1 (queue active)"
            )
        if rng.random() < 0.05:
            lines.append(
                f"{s} mail1 {tag}[{pid}]: connect to mx.example.com[198.51.100.5]:25:"
                " Connection refused"
            )
        if i % 83 == 5:
            garbage += 1
            lines.append(
                rng.choice(["garbage that is not syslog", "\x00\x00\xff binary", "::: ::: :::"])
            )
        kind = rng.choices(["sent", "bounced", "deferred"], [80, 12, 8])[0]
        relay = "relay=mx.example.com[198.51.100.5]:25, delay=0.4, delays=0.1/0/0.1/0.2"
        if kind == "sent":
            tail = "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC)"
        elif kind == "bounced":
            code = rng.choice(["5.1.1", "5.7.1"])
            tail = (
                f"dsn={code}, status=bounced (host mx.example.com[198.51.100.5] said:"
                f" 550 {code} <x@example.com>: rejected, sorry (in reply to RCPT TO command))"
            )
            if code == "5.1.1":
                tally[tags[tag]]["hard"] += 1
        else:
            tail = ("dsn=4.2.2, status=deferred (host mx.example.com[198.51.100.5] said: 452 4.2.2"
                    " Mailbox full (in reply to RCPT TO command))")  # fmt: skip
        lines.append(f"{s} mail1 {tag}[{pid}]: {q}: to=<u{i}@example.com>, {relay}, {tail}")
        tally[tags[tag]]["delivered" if kind == "sent" else kind] += 1
        if kind == "deferred" and rng.random() < 0.5:
            # postfix/error re-logs a deferred recipient: unattributed (default transport name)
            lines.append(
                f"{s} mail1 postfix/error[77]: {q}: to=<u{i}@example.com>, relay=none,"
                " delay=900, delays=900/0/0/0, dsn=4.2.2,"
                " status=deferred (delivery temporarily suspended)"
            )
            tally[None]["deferred"] += 1
        if kind != "deferred":
            lines.append(f"{s} mail1 postfix/qmgr[88]: {q}: removed")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    unattributed = tally.pop(None, Counter())
    return dict(tally), unattributed, garbage


def test_postfix_both_timestamp_styles_with_mapped_transports(tmp_path: Path, db_url: str) -> None:
    rng = random.Random(7)
    a, b = tmp_path / "maillog-classic", tmp_path / "maillog-rfc3339"
    tally_a, un_a, bad_a = write_postfix(a, rng, "classic")
    tally_b, un_b, bad_b = write_postfix(b, rng, "rfc3339")
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for t in (tally_a, tally_b):
        for ip, c in t.items():
            tally[ip].update(c)
    db = db_url
    maps = [x for name, ip in POSTFIX_MAP.items() for x in ("--ip-map", f"{name}={ip}")]
    run = cli(db, "ingest", str(a), str(b), "--format", "postfix", *maps)
    assert f"{bad_a + bad_b:,} malformed" in run.stdout, run.stdout

    rep = report(db)
    assert per_ip(rep) == expect(tally)
    assert set(per_ip(rep)) == {"192.0.2.22", "192.0.2.23"}
    un = rep["unattributed"]
    assert (un["delivered"], un["bounced"], un["deferred"]) == (
        un_a["delivered"] + un_b["delivered"],
        un_a["bounced"] + un_b["bounced"],
        un_a["deferred"] + un_b["deferred"],
    )
    malformed = {s["path"]: s["malformed"] for s in rep["ingest"]["sources"]}
    assert malformed == {str(a): bad_a, str(b): bad_b}

    cli(db, "ingest", str(a), str(b), "--format", "postfix", *maps)
    assert report(db)["ips"] == rep["ips"]


# --------------------------------------------------------------------------- simulator, 4 formats

SIM_OPTIONS: dict[str, dict] = {
    "pmta": {"shuffle_columns": True, "header_every": 700, "blank_source_ip": 0.5},
    "postfix": {"style": "rfc3339"},
    "kumo": {"no_source_address": 0.3},
    "jsonl": {},
}


@pytest.mark.usefixtures("ingest_path")
def test_simulator_files_all_formats_match_truth(tmp_path: Path, db_url: str) -> None:
    db = db_url
    total: dict[str, Counter[str]] = defaultdict(Counter)
    unattributed: Counter[str] = Counter()
    truths: dict[str, Truth] = {}
    for seed, (fmt, opts) in enumerate(SIM_OPTIONS.items(), 1):
        path = tmp_path / f"sim.{fmt}"
        events = generate_events(None, 6000, T0 + 1, T1 - 61, seed=seed)
        truth = write_file(fmt, str(path), events, seed=seed, **opts)
        truths[fmt] = truth
        maps = [x for name, ip in truth.ip_map.items() for x in ("--ip-map", f"{name}={ip}")]
        cli(db, "ingest", str(path), "--format", fmt, *maps)
        for ip, c in truth.per_ip.items():
            total[ip].update({k: v for k, v in c.as_dict().items() if k != "soft"})
        unattributed.update(truth.unattributed.as_dict())
    rep = report(db)
    assert per_ip(rep) == expect(total)
    assert rep["unattributed"] == {
        k: unattributed[k] for k in ("delivered", "bounced", "deferred", "complaints")
    }
    lines = {s["format"]: s["lines"] for s in rep["ingest"]["sources"]}
    assert lines == {fmt: t.lines for fmt, t in truths.items()}
    assert all(s["malformed"] == 0 for s in rep["ingest"]["sources"])


# --------------------------------------------------------------------------- report formats


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("formats")
    path = d / "acct.csv"
    write_pmta(path, random.Random(3), n=800)
    db = f"sqlite+aiosqlite:///{d / 'r.db'}"
    maps = [a for vmta, ip in PMTA_IPS.items() for a in ("--ip-map", f"{vmta}={ip}")]
    cli(db, "ingest", str(path), "--format", "pmta", *maps)
    return db


def test_report_every_section6_key_and_nested_fields(filled_db: str) -> None:
    rep = report(filled_db)
    assert set(rep) >= SECTION6_KEYS
    assert set(rep["engine"]) >= {"running", "role", "check_interval_seconds", "last_check_at"}
    assert rep["engine"]["role"] in ("leader", "follower", "none")
    assert set(rep["thresholds"]) >= {
        "warning", "critical", "block", "min_sample", "complaint_warning", "complaint_block",
    }  # fmt: skip
    assert rep["ips"] and all(set(r) == JSON_IP_KEYS for r in rep["ips"])
    assert all(set(s) == SUBUSER_KEYS for r in rep["ips"] for s in r["subusers"])
    assert len({r["ip"] for r in rep["ips"]}) == len(rep["ips"])  # one row per IP
    for r in rep["ips"]:  # an IP's totals hold at least what its subusers add up to
        for k in ("sent", "bounced", "deferred", "complaints"):
            assert r[k] >= sum(s[k] for s in r["subusers"])
    rates = [r["bounce_rate"] for r in rep["ips"]]
    assert rates == sorted(rates, key=lambda r: -(r if r is not None else -1))  # worst first
    for r in rep["ips"]:
        assert r["sent"] == r["delivered"] + r["bounced"]
        assert r["bounced"] == r["hard_bounced"] + r["soft_bounced"]
        if r["sent"] == 0:
            assert r["bounce_rate"] is None  # complaints-only rows (no vmta on "f" records)
            continue
        assert r["bounce_rate"] == pytest.approx(r["bounced"] / r["sent"], abs=1e-6)
        assert 0 <= r["bounce_rate"] <= 1  # a fraction, not a percent
    assert isinstance(rep["warmups"], list) and isinstance(rep["pools"], list)
    assert isinstance(rep["alerts"], list)
    assert set(rep["unattributed"]) == {"delivered", "bounced", "deferred", "complaints"}
    (src,) = rep["ingest"]["sources"]
    assert set(src) >= {"name", "format", "path", "last_event_at", "lines", "malformed"}
    assert rep["since"] == iso(T0).replace("Z", ".000Z")
    assert rep["until"] == iso(T1).replace("Z", ".000Z")


def test_report_csv_markdown_table(filled_db: str, tmp_path: Path) -> None:
    rep = report(filled_db)
    span = ("--since", iso(T0), "--until", iso(T1))
    out = cli(filled_db, "report", "--format", "csv", *span).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    # ... and each IP line's listings (issue 14.4)
    assert rows and set(rows[0]) == IP_ROW_KEYS | {"listed_on", "snds_filter"}
    lines: list[tuple[str, str, int, int]] = []
    for r in rep["ips"]:  # the IP's line, then one per subuser
        lines.append((r["ip"], "", r["sent"], r["deferred"]))
        lines += [(r["ip"], s["subuser"], s["sent"], s["deferred"]) for s in r["subusers"]]
    assert [(r["ip"], r["subuser"], int(r["sent"]), int(r["deferred"])) for r in rows] == lines
    md = cli(filled_db, "report", "--format", "markdown", *span).stdout
    assert md.count("|") > 20
    for needle in ("192.0.2.11", "192.0.2.12", "192.0.2.13"):
        assert needle in md
    for section in ("IPs", "Warmups", "Pools", "Alerts", "Unattributed", "Sources"):
        assert f"## {section}" in md, section
    table = cli(filled_db, "report", "--format", "table", *span).stdout
    assert "192.0.2.11" in table and len(table.splitlines()) > 5
    # --output writes the same text to a private file, nothing on stdout.
    target = tmp_path / "ips.csv"
    res = cli(filled_db, "report", "--format", "csv", *span, "--output", str(target))
    assert res.stdout == "" and target.read_text() == out
    assert target.stat().st_mode & 0o777 == 0o600
