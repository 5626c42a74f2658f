"""Render a report dict as json, csv (the ips rows), markdown or a Rich table."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from opsconsole.core.sanitize import shown

IP_COLUMNS = (
    "ip", "subuser", "pool", "status", "sent", "delivered", "bounced", "hard_bounced",
    "soft_bounced", "deferred", "complaints", "bounce_rate", "complaint_rate",
    "deferral_rate", "severity", "listed_on", "snds_filter",
)  # fmt: skip
FORMATS = ("json", "csv", "markdown", "table")


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def ip_lines(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The IP rows flattened: each IP's line (subuser empty), then one per subuser."""
    out = []
    for row in report["ips"]:
        out.append(row | {"subuser": None})
        for su in row["subusers"]:
            out.append(row | su)
    return out


def reputation_of(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    """ip -> {listed_on: the zones listing it (";"), snds_filter: its latest SNDS filter}."""
    out: dict[str, dict[str, str]] = {}
    for r in report.get("reputation", []):
        if r["listed"]:
            cell = out.setdefault(r["ip"], {}).get("listed_on")
            out[r["ip"]]["listed_on"] = f"{cell};{r['zone']}" if cell else r["zone"]
    for r in report.get("snds", []):  # newest day first
        out.setdefault(r["ip"], {}).setdefault("snds_filter", r["filter"])
    return out


def csv_lines(row: dict[str, Any], rep: dict[str, dict[str, str]]) -> list[list[str]]:
    """One IP row's CSV lines: its own (with its listings), then one per subuser."""
    extra = rep.get(row["ip"], {})
    head = row | {"subuser": None, "listed_on": extra.get("listed_on"),
                  "snds_filter": extra.get("snds_filter")}  # fmt: skip
    lines = [head, *(row | su | {"listed_on": None, "snds_filter": None} for su in row["subusers"])]
    return [[shown(line.get(c)) for c in IP_COLUMNS] for line in lines]


def to_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(IP_COLUMNS)
    rep = reputation_of(report)
    for row in report["ips"]:
        w.writerows(csv_lines(row, rep))
    return buf.getvalue()


PROVIDER_COLUMNS = (
    "ip", "subuser", "provider", "sent", "delivered", "bounced", "hard_bounced", "soft_bounced",
    "deferred", "complaints", "bounce_rate", "complaint_rate", "deferral_rate", "severity",
    "suspended_until",
)  # fmt: skip
CSV_SECTIONS = ("ips", "providers")


def provider_line(row: dict[str, Any]) -> list[str]:
    return [shown(row[c]) for c in PROVIDER_COLUMNS]


def providers_csv(report: dict[str, Any]) -> str:
    """The ``providers`` section, one line per (ip, subuser, provider): ``--section providers``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PROVIDER_COLUMNS)
    w.writerows(provider_line(row) for row in report.get("providers", []))
    return buf.getvalue()


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every section as (title, headers, rows of text) for the human formats."""
    ips = [
        [r["ip"], r["subuser"] or "", r["pool"] or "", r["status"], str(r["sent"]),
         pct(r["bounce_rate"]), str(r["hard_bounced"]), str(r["soft_bounced"]),
         str(r["deferred"]), str(r["complaints"]), r["severity"]]
        for r in ip_lines(report)
    ]  # fmt: skip
    warmups = [
        [w["ip"], w["schedule"], f"{w['stage']}/{w['stages_total']}", str(w["day"]),
         f"{w['sent_today']}/{w['daily_quota']}", w["state"], w["state_reason"] or "",
         w["next_change_at"] or ""]
        for w in report["warmups"]
    ]  # fmt: skip
    pools = [
        [p["name"], m["ip"], f"{m['weight']:g}/{m['base_weight']:g}", m["state"],
         str(p["active_ips"]), str(p["daily_capacity"])]
        for p in report["pools"]
        for m in p["members"]
    ]  # fmt: skip
    alerts = [
        [a["id"], a["severity"], a["state"], a["title"], a["ip"] or "", a["opened_at"] or "",
         a["acknowledged_by"] or ""]
        for a in report["alerts"]
    ]  # fmt: skip
    sources = [
        [s["name"], s["format"], str(s["lines"]), str(s["malformed"]), s["last_event_at"] or "",
         s["error"] or ""]
        for s in report["ingest"]["sources"]
    ]  # fmt: skip
    providers = [
        [r["ip"], r["subuser"] or "", r["provider"], str(r["sent"]), pct(r["bounce_rate"]),
         str(r["hard_bounced"]), str(r["soft_bounced"]), str(r["deferred"]),
         str(r["complaints"]), r["severity"], r["suspended_until"] or ""]
        for r in report.get("providers", [])
    ]  # fmt: skip
    # Listings and lookups that failed (a clean "not listed" is counted in the JSON only).
    reputation = [
        [r["ip"], r["zone"], "listed" if r["listed"] else ("refused" if r["refused"] else
         "error"), r["code"] or "", r["meaning"] or r["error"] or "", r["checked_at"] or ""]
        for r in report.get("reputation", [])
        if r["listed"] or r["refused"] or r["error"]
    ]  # fmt: skip
    snds = [
        [r["ip"], r["day"], r["filter"], pct(r["complaint_rate"]), str(r["trap_hits"]),
         str(r["recipients"]), "yes" if r["blocked"] else ""]
        for r in report.get("snds", [])
    ]  # fmt: skip
    u = report["unattributed"]
    return [
        ("IPs", ["ip", "subuser", "pool", "status", "sent", "bounce", "hard", "soft",
                 "defer", "cmpl", "severity"], ips),
        ("Warmups", ["ip", "schedule", "stage", "day", "sent/quota", "state", "reason",
                     "next change"], warmups),
        ("Pools", ["pool", "ip", "weight", "state", "active ips", "capacity/day"], pools),
        ("Providers", ["ip", "subuser", "provider", "sent", "bounce", "hard", "soft", "defer",
                       "cmpl", "severity", "suspended until"], providers),
        ("Alerts", ["id", "severity", "state", "title", "ip", "opened", "acked by"], alerts),
        ("Unattributed", ["delivered", "bounced", "deferred", "complaints"],
         [[str(u["delivered"]), str(u["bounced"]), str(u["deferred"]), str(u["complaints"])]]),
        ("Sources", ["name", "format", "lines", "malformed", "last event", "error"], sources),
        ("Reputation", ["ip", "zone", "state", "code", "meaning", "checked"], reputation),
        ("SNDS", ["ip", "day", "filter", "complaints", "traps", "recipients", "blocked"], snds),
    ]  # fmt: skip


def _header(report: dict[str, Any]) -> str:
    e = report["engine"]
    return (
        f"Report {report['since']} .. {report['until']} UTC ({report['window_seconds']} s);"
        f" engine: {e['role']}, last check {e['last_check_at'] or 'never'}"
    )


def omitted_note(report: dict[str, Any]) -> str:
    """Under a cut IP table: the totals of every IP and where to find them all."""
    t = report.get("ips_totals")
    if not t or t["omitted"] <= 0:
        return ""
    return (
        f"showing {t['shown']:,} of {t['ips']:,} IPs (worst first; all IPs: sent"
        f" {t['sent']:,}, bounced {t['bounced']:,}); use --format json|csv for all"
    )


def to_markdown(report: dict[str, Any]) -> str:
    out = [f"# opsconsole report\n\n{_header(report)}\n"]
    for title, headers, rows in _sections(report):
        out.append(f"\n## {title}\n")
        if not rows:
            out.append("\n(none)\n")
            continue
        out.append("\n| " + " | ".join(headers) + " |\n")
        out.append("|" + "---|" * len(headers) + "\n")
        for r in rows:
            out.append("| " + " | ".join(shown(c).replace("|", "\\|") for c in r) + " |\n")
        if title == "IPs" and omitted_note(report):
            out.append(f"\n{omitted_note(report)}\n")
    return "".join(out)


def to_table(report: dict[str, Any], width: int | None = None) -> str:
    """The tables as plain aligned text (for a file or a pipe): nothing cut, no boxes."""
    from opsconsole.output import Column, clean, plain

    out = [clean(_header(report)) + "\n"]
    for title, headers, rows in _sections(report):
        out.append(f"\n{title}\n")
        out.append(plain([Column(h) for h in headers], rows) if rows else "(none)\n")
        if title == "IPs" and omitted_note(report):
            out.append(f"{omitted_note(report)}\n")
    return "".join(out)


NUMERIC_OR_KEY = frozenset(
    {"ip", "id", "sent", "bounce", "hard", "soft", "defer", "cmpl", "severity", "stage", "day",
     "sent/quota", "weight", "active ips", "capacity/day", "delivered", "bounced", "deferred",
     "complaints", "lines", "malformed", "code", "traps", "recipients"}
)  # fmt: skip


def print_tables(report: dict[str, Any], console: Any) -> None:
    """Every section as a Rich table on ``console``; IP rows coloured by severity.

    Built for 80 columns over SSH: light boxes, no column that is empty in every row, and
    numbers, IPs and severities never cut (text columns give way instead)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from opsconsole.styles import SEVERITY_STYLE

    console.print(_header(report))
    for title, headers, rows in _sections(report):
        keep = [i for i, _ in enumerate(headers) if not rows or any(r[i] for r in rows)]
        table = Table(
            title=title, title_justify="left", expand=False, box=box.SIMPLE_HEAD,
            pad_edge=False, collapse_padding=True,
        )  # fmt: skip
        for i in keep:
            table.add_column(headers[i], no_wrap=headers[i] in NUMERIC_OR_KEY)
        for r in rows:
            style = SEVERITY_STYLE.get(r[-1], "") if title == "IPs" else ""
            # Text, not markup: a "[/x]" from a log must not be read as a Rich tag.
            table.add_row(*(Text(shown(r[i])) for i in keep), style=style)
        console.print(table)
        if title == "IPs" and omitted_note(report):
            console.print(Text(omitted_note(report)))


def render(report: dict[str, Any], fmt: str, section: str = "ips") -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return providers_csv(report) if section == "providers" else to_csv(report)
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "table":
        return to_table(report)
    raise ValueError(f"unknown format {fmt!r}")
