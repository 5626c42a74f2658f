"""The simulator: determinism, real-looking lines, an exact truth, the live story, the CLI.

Recounts here are done with csv/json/regex in the test itself, not with the project's
parsers, so the truth is checked independently of the code it will later check.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from opsconsole.cli.simulate import register
from opsconsole.core.events import Event, Kind
from opsconsole.simulator import (
    FORMATS,
    PMTA_COMMON_HEADER,
    PMTA_HEADER,
    LiveFeed,
    Scenario,
    Truth,
    generate_events,
    render_jsonl,
    render_kumo,
    render_pmta,
    render_postfix,
    write_file,
)

END = 1_767_225_600.0  # 2026-01-01T00:00:00Z
START = END - 86_400
HARD_CODES = {"5.1.1", "5.1.10", "5.2.1"}
ENH = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"

# ---------------------------------------------------------------- independent recounts

Tally = dict[str | None, Counter[str]]


def _add(t: Tally, ip: str | None, kind: str, hard: bool = False) -> None:
    c = t.setdefault(ip or None, Counter())
    c[kind] += 1
    if kind == "bounced":
        c["hard" if hard else "soft"] += 1


def recount_pmta(text: str, ip_map: dict[str, str]) -> Tally:
    t: Tally = {}
    cols: dict[str, int] = {}
    kinds = {"d": "delivered", "b": "bounced", "t": "deferred", "f": "complaints"}
    for row in csv.reader(io.StringIO(text)):
        if row and row[0] == "type":
            cols = {name: i for i, name in enumerate(row)}
            continue
        kind = kinds[row[0]]
        rec = {name: row[i] for name, i in cols.items()}
        ip = rec.get("repSourceIp") if row[0] == "f" else rec.get("dlvSourceIp")
        if not ip:
            ip = ip_map.get(rec.get("vmta", ""), "")
        m = ENH.search(rec.get("dsnStatus", ""))
        _add(t, ip, kind, bool(m and m.group(1) in HARD_CODES))
    return t


POSTFIX_DELIVERY = re.compile(
    r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) "
    r"\S+ (?P<tag>postfix(?:/[\w.-]+)?)/smtp\[\d+\]: (?P<qid>[0-9A-F]{10,12}): "
    r"to=<[^>]+>, (?:orig_to=<[^>]*>, )?relay=\S+\[[\d.]+\]:\d+, (?:conn_use=\d+, )?"
    r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, "
    r"dsn=(?P<dsn>\d\.\d{1,3}\.\d{1,3}), status=(?P<status>sent|bounced|deferred) \(.*\)$"
)
POSTFIX_ANY = re.compile(
    r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) "
    r"\S+ postfix(?:/[\w.-]+)*/(?:smtp|qmgr|cleanup|bounce)\[\d+\]: [0-9A-F]{10,12}: \S"
)


def recount_postfix(text: str, ip_map: dict[str, str]) -> Tally:
    t: Tally = {}
    kinds = {"sent": "delivered", "bounced": "bounced", "deferred": "deferred"}
    for line in text.splitlines():
        m = POSTFIX_DELIVERY.match(line)
        if m:
            dsn = m["dsn"]
            _add(t, ip_map.get(m["tag"]), kinds[m["status"]], dsn in HARD_CODES)
    return t


def recount_kumo(text: str, ip_map: dict[str, str]) -> Tally:
    t: Tally = {}
    kinds = {
        "Delivery": "delivered",
        "Bounce": "bounced",
        "TransientFailure": "deferred",
        "Feedback": "complaints",
    }
    for line in text.splitlines():
        rec = json.loads(line)
        src = rec.get("source_address")
        ip = src["address"].rsplit(":", 1)[0] if src else ip_map.get(rec.get("egress_source"))
        enh = (rec.get("response") or {}).get("enhanced_code")
        code = f"{enh['class']}.{enh['subject']}.{enh['detail']}" if enh else ""
        _add(t, ip, kinds[rec["type"]], code in HARD_CODES)
    return t


def recount_jsonl(text: str, ip_map: dict[str, str]) -> Tally:
    t: Tally = {}
    names = {"delivered": "delivered", "bounced": "bounced", "deferred": "deferred"}
    for line in text.splitlines():
        rec = json.loads(line)
        _add(t, rec["ip"], names.get(rec["kind"], "complaints"), rec["hard"])
    return t


RECOUNT = {
    "pmta": recount_pmta,
    "postfix": recount_postfix,
    "kumo": recount_kumo,
    "jsonl": recount_jsonl,
}


def truth_tally(truth: Truth) -> Tally:
    out: Tally = {}
    for ip, c in [*truth.per_ip.items(), (None, truth.unattributed)]:
        counter = Counter({k: v for k, v in c.as_dict().items() if v})
        if counter:
            out[ip] = counter
    return out


# ---------------------------------------------------------------- generation


def test_generate_is_deterministic_per_seed() -> None:
    sc = Scenario.default()
    a = list(generate_events(sc, 5000, START, END, seed=3))
    b = list(generate_events(sc, 5000, START, END, seed=3))
    c = list(generate_events(sc, 5000, START, END, seed=4))
    assert a == b
    assert a != c


def test_generate_count_order_and_span() -> None:
    evs = list(generate_events(Scenario.default(), 12_345, START, END, seed=1))
    assert len(evs) == 12_345
    stamps = [e.ts for e in evs]
    assert stamps == sorted(stamps)
    assert stamps[0] >= START and stamps[-1] < END
    assert list(generate_events(None, 0, START, END)) == []


def test_generate_shape_matches_scenario() -> None:
    sc = Scenario.default()
    evs = list(generate_events(sc, 200_000, START, END, seed=1))
    kinds = Counter(e.kind for e in evs)
    assert set(kinds) == set(Kind)
    assert kinds[Kind.COMPLAINED] < kinds[Kind.BOUNCED] < kinds[Kind.DELIVERED]
    last_hour = [e for e in evs if e.ts >= END - 3600]

    def rate(ip: str, evs: list[Event]) -> float:
        c = Counter(e.kind for e in evs if e.ip == ip)
        return c[Kind.BOUNCED] / (c[Kind.BOUNCED] + c[Kind.DELIVERED])

    assert rate(sc.bad_ip or "", last_hour) > 0.15
    assert 0.05 <= rate(sc.warning_ip or "", evs) < 0.10
    assert 0.10 <= rate(sc.critical_ip or "", evs) < 0.16
    assert rate("203.0.113.1", evs) < 0.03
    # the bad IP's bounces are mostly 5.7.1 spam blocks (soft), list problems are hard
    bad_bounces = [e for e in last_hour if e.ip == sc.bad_ip and e.kind == Kind.BOUNCED]
    assert Counter(e.status for e in bad_bounces).most_common(1)[0][0] == "5.7.1"
    for e in evs:
        if e.kind == Kind.BOUNCED:
            assert e.hard == (e.status in HARD_CODES), e
            assert e.diag and e.status in e.diag
    assert {e.rcpt_domain for e in evs} >= {"gmail.com", "yahoo.com", "outlook.com"}
    assert {e.ip for e in evs} == {p.ip for p in sc.ips}


def test_scenario_views_and_config_shape() -> None:
    from opsconsole.settings import Settings

    sc = Scenario.default()
    assert sc.pools == {
        "bulk": ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"),
        "transactional": ("203.0.113.10", "203.0.113.11"),
    }
    assert sorted(sc.warming) == ["198.51.100.20", "198.51.100.21", "198.51.100.22"]
    assert sc.bad_ip == "203.0.113.2"
    cfg = sc.config_dict(sources={fmt: f"/tmp/sim.{fmt}" for fmt in FORMATS})
    assert cfg["ip_map"]["pmta"]["vmta-bulk1"] == "203.0.113.1"
    assert cfg["ip_map"]["postfix"]["postfix/out2"] == "203.0.113.2"
    assert cfg["ip_map"]["kumo"]["bulk2"] == "203.0.113.2"
    settings = Settings(pools=cfg["pools"], warmups=cfg["warmups"], sources=cfg["sources"])
    assert [p.name for p in settings.pools] == ["bulk", "transactional"]
    assert {w.ip for w in settings.warmups} == set(sc.warming)
    assert settings.sources[0].ip_map == cfg["ip_map"]["pmta"]


def test_from_ips() -> None:
    ips = [f"10.1.0.{i}" for i in range(1, 6)]
    sc = Scenario.from_ips(ips, pool="p", warming=["10.2.0.1"], bad="10.1.0.2", warning="10.1.0.3")
    assert sc.pools == {"p": tuple(ips)}
    assert sc.warming == {"10.2.0.1": "p"}
    assert sc.bad_ip == "10.1.0.2" and sc.warning_ip == "10.1.0.3"
    assert sc.ip_map("postfix")["postfix/out6"] == "10.2.0.1"
    evs = list(generate_events(sc, 1000, START, END, seed=1))
    assert {e.ip for e in evs} <= {*ips, "10.2.0.1"}
    with pytest.raises(ValueError):
        Scenario.from_ips(["10.0.0.1", "nope"])
    with pytest.raises(ValueError):
        Scenario.from_ips(["10.0.0.1"], bad="10.0.0.9")
    with pytest.raises(ValueError):
        Scenario.from_ips(["10.0.0.1", "10.0.0.1"])


# ---------------------------------------------------------------- truth vs recount


@pytest.mark.parametrize("fmt", FORMATS)
def test_truth_equals_independent_recount(fmt: str, tmp_path: Path) -> None:
    sc = Scenario.default()
    path = tmp_path / f"out.{fmt}"
    truth = write_file(fmt, str(path), generate_events(sc, 30_000, START, END, seed=5), seed=5)
    text = path.read_text(encoding="utf-8")
    assert truth.lines == text.count("\n")
    assert truth_tally(truth) == RECOUNT[fmt](text, sc.ip_map(fmt))
    if fmt == "postfix":
        # NDRs go out through the plain postfix/smtp: unattributed deliveries, one per bounce
        assert truth.unattributed.delivered == truth.totals.bounced > 0
        assert truth.skipped > 0  # complaints cannot be written to a Postfix log
    else:
        assert truth.events == 30_000
    doc = json.loads(json.dumps(truth.as_dict()))
    assert doc["per_ip"]["203.0.113.1"]["delivered"] == truth.per_ip["203.0.113.1"].delivered


def test_pmta_truth_with_shuffled_subset_and_restarting_header() -> None:
    sc = Scenario.default()
    evs = list(generate_events(sc, 5000, START, END, seed=2))
    cols = [c for c in PMTA_HEADER if c not in ("dlvSourceIp", "repSourceIp")]
    truth = Truth("pmta")
    lines = list(
        render_pmta(evs, cols, shuffle_columns=True, header_every=700, seed=9, truth=truth)
    )
    headers = [ln for ln in lines if ln.startswith("type,")]
    assert len(headers) == 1 + (5000 - 1) // 700
    assert headers[0] != ",".join(cols)  # shuffled
    text = "\n".join(lines)
    assert truth_tally(truth) == recount_pmta(text, sc.ip_map("pmta"))
    # without dlvSourceIp everything but complaints is attributed through the vmta
    complaints = sum(1 for e in evs if e.kind == Kind.COMPLAINED)
    assert truth.unattributed.complaints == complaints
    assert sum(truth.unattributed.as_dict().values()) == complaints


def test_pmta_blank_source_ip_needs_the_map() -> None:
    sc = Scenario.default()
    evs = list(generate_events(sc, 20_000, START, END, seed=1))
    lines = list(render_pmta(evs, blank_source_ip=0.5))
    rows = list(csv.reader(lines))
    col = {n: i for i, n in enumerate(rows[0])}
    blanks = [r for r in rows[1:] if r[0] == "b" and not r[col["dlvSourceIp"]]]
    assert blanks and all(r[col["vmta"]].startswith("vmta-") for r in blanks)
    assert all(r[col["dlvSourceIp"]] for r in rows[1:] if r[0] == "d")


# ---------------------------------------------------------------- lines look real


def test_pmta_lines_look_like_the_guide_sample(samples: Path) -> None:
    sample = (samples / "pmta" / "acct-guide-samples.csv").read_text().splitlines()
    assert sample[0].split(",") == list(PMTA_COMMON_HEADER)
    evs = list(generate_events(None, 3000, START, END, seed=1))
    rows = list(csv.reader(render_pmta(evs)))
    header = rows[0]
    assert header[: len(PMTA_COMMON_HEADER)] == list(PMTA_COMMON_HEADER)
    sample_rows = list(csv.reader(sample[1:]))
    col = {n: i for i, n in enumerate(header)}
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0000$")
    assert all(stamp.match(r[1]) for r in sample_rows)  # the sample's own shape
    assert {r[0] for r in rows[1:]} == {"d", "b", "t", "f"}
    for r in rows[1:]:
        assert len(r) == len(header)
        assert stamp.match(r[col["timeLogged"]])
        if r[0] in ("d", "b"):
            assert r[col["dsnDiag"]].startswith("smtp;")
            assert re.match(r"^[245]\.\d+\.\d+ \(.+\)$", r[col["dsnStatus"]])
            assert r[col["vmta"]].startswith("vmta-")
        if r[0] == "b":
            assert r[col["bounceCat"]] in {
                "bad-mailbox",
                "inactive-mailbox",
                "quota-issues",
                "spam-related",
                "policy-related",
            }
        if r[0] == "f":
            assert r[col["repSourceIp"]] and r[col["feedbackType"]] == "abuse"
    # quoted commas, as in the guide (dlvEsmtpAvailable)
    assert '"ENHANCEDSTATUSCODES,' in "\n".join(render_pmta(evs[:5]))


@pytest.mark.parametrize("style", ["classic", "rfc3339"])
def test_postfix_lines_look_like_the_real_log(samples: Path, style: str) -> None:
    real = (samples / "postfix" / "maillog-real-3.7.log").read_text().splitlines()
    real_deliveries = [ln for ln in real if "status=" in ln]
    assert real_deliveries and all(POSTFIX_DELIVERY.match(ln) for ln in real_deliveries)
    evs = list(generate_events(None, 3000, START, END, seed=1))
    lines = list(render_postfix(evs, style=style))
    assert all(POSTFIX_ANY.match(ln) for ln in lines), next(
        ln for ln in lines if not POSTFIX_ANY.match(ln)
    )
    deliveries = [ln for ln in lines if "status=" in ln]
    assert all(POSTFIX_DELIVERY.match(ln) for ln in deliveries)
    tags = Counter(POSTFIX_DELIVERY.match(ln)["tag"] for ln in deliveries)  # type: ignore[index]
    assert "postfix/out2" in tags and "postfix" in tags  # per-IP transports + plain smtp NDRs
    statuses = Counter(POSTFIX_DELIVERY.match(ln)["status"] for ln in deliveries)  # type: ignore[index]
    assert set(statuses) == {"sent", "bounced", "deferred"}
    assert any("/qmgr[" in ln and "removed" in ln for ln in lines)
    assert any("/cleanup[" in ln and "message-id=<" in ln for ln in lines)
    assert any("sender non-delivery notification" in ln for ln in lines)
    assert any("[TSS04]" in ln for ln in deliveries)
    assert any("said: 550-5.1.1" in ln or "said: 550 5.1.1" in ln for ln in deliveries)


def test_postfix_custom_transports_and_unmapped_ip() -> None:
    evs = [
        Event(START, Kind.DELIVERED, "203.0.113.1", None, False, "gmail.com"),
        Event(START + 1, Kind.DELIVERED, "192.0.2.99", None, False, "gmail.com"),
    ]
    truth = Truth("postfix")
    lines = list(
        render_postfix(evs, "classic", {"203.0.113.1": "postfix-ip1"}, noise=0, truth=truth)
    )
    assert " postfix-ip1/smtp[" in lines[0]
    assert " postfix/smtp[" in lines[1]
    assert truth.per_ip["203.0.113.1"].delivered == 1
    assert truth.unattributed.delivered == 1


def test_kumo_records_look_like_the_sample(samples: Path) -> None:
    sample = [json.loads(ln) for ln in (samples / "kumo" / "log-sample.jsonl").open()]
    by_type = {r["type"]: r for r in sample}
    evs = list(generate_events(None, 3000, START, END, seed=1))
    recs = [json.loads(ln) for ln in render_kumo(evs)]
    assert {r["type"] for r in recs} == {"Delivery", "Bounce", "TransientFailure", "Feedback"}
    with_src = [r for r in recs if "source_address" in r]
    without = [r for r in recs if "source_address" not in r and r["type"] != "Feedback"]
    assert with_src and without
    delivery_keys = set(by_type["Delivery"])
    for r in with_src:
        assert set(r) == delivery_keys
        assert isinstance(r["timestamp"], int)
        assert (
            r["source_address"]["address"].rsplit(":", 1)[0]
            == r["source_address"]["address"].split(":")[0]
        )
        assert set(r["response"]) == set(by_type["Delivery"]["response"])
        assert set(r["response"]["enhanced_code"]) == {"class", "subject", "detail"}
        assert "tenant" in r["meta"]
    for r in without:
        assert set(r) == delivery_keys - {"source_address"}
        assert r["egress_source"]
    assert any(r["response"]["content"].startswith("[TSS04]") for r in recs)


def test_jsonl_lines() -> None:
    evs = list(generate_events(None, 500, START, END, seed=1))
    recs = [json.loads(ln) for ln in render_jsonl(evs)]
    assert len(recs) == 500
    for e, r in zip(evs, recs, strict=True):
        assert set(r) == {"ts", "kind", "ip", "subuser", "hard", "rcpt_domain", "status", "diag"}
        assert r["kind"] == e.kind.name.lower()
        assert abs(r["ts"] - e.ts) < 0.001
        assert (r["ip"], r["subuser"], r["hard"], r["rcpt_domain"], r["status"], r["diag"]) == (
            e.ip,
            e.subuser,
            e.hard,
            e.rcpt_domain,
            e.status,
            e.diag,
        )


def test_renderers_are_deterministic() -> None:
    evs = list(generate_events(None, 2000, START, END, seed=1))
    for render in (render_pmta, render_postfix, render_kumo):
        assert list(render(evs, seed=3)) == list(render(evs, seed=3))  # type: ignore[operator]


# ---------------------------------------------------------------- speed


def test_writing_is_fast(tmp_path: Path) -> None:
    t = time.perf_counter()
    truth = write_file(
        "pmta", str(tmp_path / "a.csv"), generate_events(None, 100_000, START, END, seed=1)
    )
    elapsed = time.perf_counter() - t
    assert truth.lines == 100_001
    assert elapsed < 6.0, f"{elapsed:.1f}s for 100k pmta lines"  # ~0.8 s on a 2-vCPU VM


# ---------------------------------------------------------------- live feed


def _drive(feed: LiveFeed, fmt: str | None, seconds: float, tick: float = 0.5) -> list[Any]:
    t0 = 1_000_000.0
    out: list[Any] = []
    steps = int(seconds / tick)
    for i in range(steps + 1):
        now = t0 + i * tick
        out.extend(feed.events_until(now) if fmt is None else feed.lines_until(fmt, now))
    return out


def test_live_feed_story_and_rate() -> None:
    sc = Scenario.default()
    feed = LiveFeed(sc, seed=1, rate_per_s=80)
    evs: list[Event] = _drive(feed, None, 240)
    assert abs(len(evs) - 80 * 240) <= 1
    t0 = 1_000_000.0
    assert all(t0 <= e.ts <= t0 + 240 for e in evs)
    assert [e.ts for e in evs] == sorted(e.ts for e in evs)

    def rate(ip: str, lo: float, hi: float) -> float:
        c = Counter(e.kind for e in evs if e.ip == ip and t0 + lo <= e.ts < t0 + hi)
        return c[Kind.BOUNCED] / max(1, c[Kind.BOUNCED] + c[Kind.DELIVERED])

    bad, rec = sc.bad_ip or "", sc.recovering_ip or ""
    assert rate(bad, 0, 30) < 0.08  # starts healthy-ish
    assert rate(bad, 90, 180) > 0.15  # ... and is blocking within its first minutes
    assert rate(rec, 0, 90) > 0.10  # critical at first
    assert rate(rec, 110, 240) < 0.05  # recovered later
    assert 0.05 <= rate(sc.warning_ip or "", 0, 240) < 0.10


def test_live_feed_is_deterministic_and_renders_lines() -> None:
    a = _drive(LiveFeed(seed=4, rate_per_s=20), "pmta", 30)
    b = _drive(LiveFeed(seed=4, rate_per_s=20), "pmta", 30)
    assert a == b
    assert a[0].startswith("type,timeLogged,")
    assert sum(1 for ln in a if ln.startswith("type,")) == 1
    assert abs(len(a) - 1 - 20 * 30) <= 1
    feed = LiveFeed(seed=4, rate_per_s=20)
    lines = _drive(feed, "postfix", 30)
    assert lines and all(POSTFIX_ANY.match(ln) for ln in lines)
    assert truth_tally(feed.truth("postfix")) == recount_postfix(
        "\n".join(lines), feed.scenario.ip_map("postfix")
    )
    # a long gap (laptop asleep) is not back-filled without bound
    gap = LiveFeed(seed=1, rate_per_s=10, max_gap=60)
    gap.events_until(0.0)
    assert len(gap.events_until(3600.0)) == 600
    assert gap.events_until(3600.0) == []  # same now: nothing new


# ---------------------------------------------------------------- command line


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(rich_markup_mode=None)  # as opsconsole.cli's app

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    return app


def test_cli_writes_file_and_truth(app: typer.Typer, tmp_path: Path) -> None:
    out, truth = tmp_path / "m.log", tmp_path / "t.json"
    args = ["simulate", "--format", "postfix", "--out", str(out), "--events", "2000"]
    args += ["--end", "2026-03-02T10:00:00Z", "--hours", "2", "--style", "rfc3339"]
    res = CliRunner().invoke(app, [*args, "--truth", str(truth), "--seed", "7"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.startswith("2026-03-02T08:")
    doc = json.loads(truth.read_text())
    assert doc["format"] == "postfix" and doc["seed"] == 7
    assert doc["ip_map"]["postfix/out1"] == "203.0.113.1"
    assert doc["lines"] == text.count("\n")
    # same seed, same file
    out2 = tmp_path / "m2.log"
    args[4] = str(out2)
    assert CliRunner().invoke(app, [*args, "--seed", "7"]).exit_code == 0
    assert out2.read_text() == text


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "csv", "--out", "OUT"],
        ["--out", "OUT"],
        ["--format", "pmta"],
        ["--format", "pmta", "--out", "OUT", "--events", "many"],
        ["--format", "pmta", "--out", "OUT", "--events", "-5"],
        ["--format", "pmta", "--out", "OUT", "--hours", "0"],
        ["--format", "pmta", "--out", "OUT", "--end", "yesterday"],
        ["--format", "pmta", "--out", "OUT", "--style", "classic"],
        ["--format", "postfix", "--out", "OUT", "--style", "iso"],
        ["--format", "pmta", "--out", "/nonexistent-dir/x.csv"],
        ["--format", "pmta", "--out", "TMP"],  # a directory
        ["--format", "pmta", "--out", "OUT", "--truth", "/nonexistent-dir/t.json"],
    ],
)
def test_cli_bad_args_exit_2_one_line(app: typer.Typer, tmp_path: Path, args: list[str]) -> None:
    args = [
        str(tmp_path / "o.csv") if a == "OUT" else str(tmp_path) if a == "TMP" else a for a in args
    ]
    res = CliRunner().invoke(app, ["simulate", *args])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("opsconsole: "), res.stderr
    assert "Traceback" not in res.output


def test_cli_help_has_examples(app: typer.Typer) -> None:
    res = CliRunner().invoke(app, ["simulate", "--help"])
    assert res.exit_code == 0
    assert "Examples:" in res.output
    lines = [ln.strip() for ln in res.output.splitlines()]
    assert "opsconsole simulate --format pmta --out /tmp/acct.csv" in lines  # not rewrapped


def test_simulate_does_not_import_textual(tmp_path: Path) -> None:
    code = (
        "import sys, typer\n"
        "from opsconsole.cli.simulate import register\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "register(app)\n"
        f"app(['simulate', '--format', 'kumo', '--out', {str(tmp_path / 'k.json')!r},"
        " '--events', '100'], standalone_mode=False)\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("ok")
    assert res.stderr == ""  # no progress bar when the output is not a terminal
