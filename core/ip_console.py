"""What the console shows per IP beyond its own totals: its worst provider and reputation
(IPs panel cells), its provider table, reputation section and timeline (IP detail).

Numbers come from the same reads and rules as the report (``provider_views``,
``reputation.report``, ``stats.severity``); nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsconsole.core import provider_views
from opsconsole.core.config import EngineConfig
from opsconsole.core.reputation import report as rep
from opsconsole.core.reputation.zones import SEVERITY_RANK
from opsconsole.core.stats import (
    Thresholds,
    WindowStats,
    bounce_severity,
    complaint_severity,
    severity,
)

Row = dict[str, Any]
RANK = {"insufficient": 0, "ok": 1, "warning": 2, "critical": 3, "block": 4}
DETAIL_WINDOWS = (("15m", 900.0), ("1h", 3600.0), ("24h", 86400.0))
TOP_REASONS = 3
REASON_SAMPLES = 300  # recent bounce samples the per-provider reasons are counted over


def _stats(r: Mapping[str, Any]) -> WindowStats:
    return WindowStats(
        r["delivered"], r["bounced"], r["hard_bounced"], r["soft_bounced"], r["deferred"],
        r["complaints"],
    )  # fmt: skip


def by_provider(
    rows: Iterable[Mapping[str, Any]], subuser: str | None = None, whole_ip: bool = True
) -> dict[tuple[str, str], tuple[WindowStats, str | None]]:
    """(ip, provider) -> (counters summed over subusers, suspended_until), or one subuser's
    own when ``whole_ip`` is False."""
    out: dict[tuple[str, str], tuple[WindowStats, str | None]] = {}
    for r in rows:
        if not whole_ip and (r["subuser"] or None) != subuser:
            continue
        key = (r["ip"], r["provider"])
        prev = out.get(key)
        st = _stats(r) if prev is None else prev[0] + _stats(r)
        out[key] = (st, r["suspended_until"] or (prev[1] if prev else None))
    return out


@dataclass(frozen=True)
class WorstProvider:
    provider: str
    bounce_rate: float
    severity: str
    sent: int
    complaint_rate: float | None = None  # set when complaints, not bounces, make it worst


def worst_providers(
    report: Mapping[str, Any], config: EngineConfig
) -> dict[tuple[str, str | None], WorstProvider]:
    """Per IP row ``(ip, None)`` and per subuser row ``(ip, subuser)``: the provider judged
    worse than the row itself (a higher severity, enough sent), the worst such one (severity,
    then bounce rate, then sent). Absent when no provider is worse than the row's own rate."""
    base = config.monitor.thresholds
    pcfg = config.providers
    own: dict[tuple[str, str | None], str] = {}
    for ip_row in report["ips"]:
        own[(ip_row["ip"], None)] = ip_row["severity"]
        for su in ip_row["subusers"]:
            own[(ip_row["ip"], su["subuser"])] = su["severity"]
    grouped: dict[tuple[str, str | None], list[tuple[str, WindowStats]]] = {}
    for r in report.get("providers", ()):
        if r["provider"] == "other":
            continue
        grouped.setdefault((r["ip"], r["subuser"]), []).append((r["provider"], _stats(r)))
    whole: dict[tuple[str, str | None], dict[str, WindowStats]] = {}
    for (ip, _su), items in grouped.items():
        per = whole.setdefault((ip, None), {})
        for prov, st in items:
            per[prov] = per[prov] + st if prov in per else st
    keyed: list[tuple[tuple[str, str | None], Iterable[tuple[str, WindowStats]]]] = [
        (k, v) for k, v in grouped.items() if k[1] is not None
    ]
    keyed += [(k, v.items()) for k, v in whole.items()]
    out: dict[tuple[str, str | None], WorstProvider] = {}
    pairs_of: dict[tuple[str, str | None], list[tuple[str, WindowStats]]] = {}
    for key, pairs in keyed:
        pairs = pairs_of[key] = list(pairs)
        mine = RANK.get(own.get(key, "ok"), 1)
        best: tuple[int, float, int, str] | None = None
        for prov, st in pairs:
            sev = severity(st, pcfg.thresholds(prov, base)).label
            if RANK[sev] <= max(mine, RANK["ok"]) or st.bounce_rate is None:
                continue
            cand = (RANK[sev], st.bounce_rate, st.sent, prov)
            if best is None or cand > best:
                best = cand
        if best is not None:
            rank, rate_, sent, prov = best
            label = next(k for k, v in RANK.items() if v == rank)
            st = dict(pairs_of[key])[prov]
            t = pcfg.thresholds(prov, base)
            by_complaints = complaint_severity(st, t) > bounce_severity(st, t)
            out[key] = WorstProvider(
                prov, rate_, label, sent, st.complaint_rate if by_complaints else None
            )
    return out


# -- reputation cells ---------------------------------------------------------------------


@dataclass(frozen=True)
class RepCell:
    """The IPs panel's reputation cell: ``ZEN:SBL`` (+N more zones), ``ok``, ``?`` (only
    refused/failed lookups) or ``-`` (no check result: reputation off or not run yet)."""

    state: str  # listed | ok | unknown | none
    zone: str = ""  # short zone name of the worst listing, upper case
    tag: str = ""  # its meaning's short tag ("SBL", "XBL"), "" when none
    more: int = 0  # further zones listing the IP
    severity: str = ""  # the worst listing's alert severity (info/warning/critical)

    def label(self, narrow: bool = False) -> str:
        if self.state == "listed":
            head = (
                f"{self.zone}:{self.tag}" if self.tag and not (narrow and self.more) else self.zone
            )
            return head + (f"+{self.more}" if self.more else "")
        return {"ok": "ok", "unknown": "?"}.get(self.state, "-")


def _tag(meaning: str | None) -> str:
    head = (meaning or "").split(";")[0].split(":")[0].strip()
    word = head.split(" ")[-1] if head else ""
    return word if word.isupper() and len(word) <= 5 else ""


def reputation_cells(report: Mapping[str, Any]) -> dict[str, RepCell]:
    by_ip: dict[str, list[Mapping[str, Any]]] = {}
    for r in report.get("reputation", ()):
        by_ip.setdefault(r["ip"], []).append(r)
    out: dict[str, RepCell] = {}
    for ip, rows in by_ip.items():
        listed = [r for r in rows if r["listed"]]
        if listed:
            worst = max(listed, key=lambda r: (SEVERITY_RANK.get(r["severity"] or "", -1),
                                               r["zone"] == rep.short_zone(r["zone"])))  # fmt: skip
            out[ip] = RepCell("listed", rep.short_zone(worst["zone"]).upper(),
                              _tag(worst["meaning"]), len(listed) - 1,
                              worst["severity"] or "warning")  # fmt: skip
        elif all(r["refused"] or r["error"] for r in rows):
            out[ip] = RepCell("unknown")
        else:
            out[ip] = RepCell("ok")
    return out


# -- the IP detail: providers -------------------------------------------------------------


def _reason(status: str, diag: str, sigs: Any) -> str:
    from opsconsole.core.taxonomy import classify

    sig = sigs.match(diag) if diag else None
    if sig is not None:
        return f"{sig.meaning} ({sig.id})" if sig.meaning else sig.id
    return f"{classify('', status, diag)} {status}".strip()


def reasons_by_provider(samples: Sequence[Mapping[str, Any]], config: EngineConfig,
                        top: int = TOP_REASONS) -> dict[str, list[tuple[str, int]]]:  # fmt: skip
    """provider -> its most frequent bounce reasons among ``samples`` (a block signature's
    meaning, else the taxonomy class and status), most frequent first."""
    from opsconsole.core.engine.provider_check import tools

    table, sigs = tools(config.providers)
    counts: dict[str, dict[str, int]] = {}
    for s in samples:
        prov = table.provider_of(s["rcpt_domain"] or "")
        why = _reason(s["status"] or "", s["diag"] or "", sigs)
        per = counts.setdefault(prov, {})
        per[why] = per.get(why, 0) + 1
    return {p: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top] for p, c in counts.items()}


async def ip_providers(store: Any, config: EngineConfig, ip: str, now: float) -> list[Row]:
    """One row per provider of ``ip`` (subusers summed): sent, bounce rate and severity over
    15m/1h/24h, its suspension, its top bounce reasons. Worst (24h... 15m severity) first."""
    from opsconsole.core.views import counts
    from opsconsole.core.windows import window_bounds

    base = config.monitor.thresholds
    pcfg = config.providers
    table: dict[str, Row] = {}
    for name, seconds in DETAIL_WINDOWS:
        lo, hi = window_bounds(now, seconds)
        rows = await provider_views.providers_section(store, config, lo, hi, now, ip=ip)
        for (_ip, prov), (st, until) in by_provider(rows).items():
            row = table.setdefault(prov, {"provider": prov, "suspended_until": None,
                                          "windows": {}, "reasons": []})  # fmt: skip
            row["windows"][name] = counts(st, pcfg.thresholds(prov, base))
            row["suspended_until"] = row["suspended_until"] or until
    empty = counts(WindowStats(), base)
    for row in table.values():
        for name, _s in DETAIL_WINDOWS:
            row["windows"].setdefault(name, empty)
    samples = await store.bounce_samples(ip, limit=REASON_SAMPLES)
    for prov, reasons in reasons_by_provider(samples, config).items():
        if prov in table:
            table[prov]["reasons"] = reasons

    def order(r: Row) -> tuple[int, float, int, str]:
        w = r["windows"]["1h"]
        return (-RANK.get(w["severity"], 0), -(w["bounce_rate"] or 0.0), -w["sent"],
                r["provider"])  # fmt: skip

    return sorted(table.values(), key=order)


# -- the IP detail: reputation ------------------------------------------------------------


async def ip_reputation(store: Any, ip: str, days: int = 7) -> dict[str, list[Row]]:
    """``results`` (per zone) and ``snds`` (the last ``days`` days, newest first)."""
    reads = rep.reads_of(store)
    if reads is None:
        return {"results": [], "snds": []}
    return {
        "results": [rep.result_row(r) for r in await reads.results(ip)],
        "snds": [rep.snds_row(r) for r in await reads.snds_rows(ip, limit=days)],
    }


# -- the IP detail: timeline ----------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    slot: int
    at: float
    source: str  # a zone's short name, or "snds"
    state: str  # listed | clear | GREEN | YELLOW | RED


@dataclass
class Timeline:
    lo: int  # start of the first slot (unix seconds)
    step: int  # slot length, seconds
    rates: list[float | None]  # bounce rate per slot; None where nothing was sent
    severities: list[str]  # per slot, as the policy would judge that slot alone
    sent: list[int]
    marks: list[Mark] = field(default_factory=list)
    warning: float = 0.05
    critical: float = 0.10
    block: float = 0.15


def timeline_of(
    series: Sequence[tuple[int, int]],
    changes: Iterable[Mapping[str, Any]],
    lo: int,
    step: int,
    t: Thresholds,
) -> Timeline:
    """Pure: slots of (sent, bounced) and reputation changes -> the chart's data."""
    rates: list[float | None] = []
    sevs: list[str] = []
    for sent, bounced in series:
        st = WindowStats(delivered=max(0, sent - bounced), bounced=bounced)
        rates.append(st.bounce_rate)
        sevs.append(severity(st, t).label)
    n = len(series)
    marks = []
    for c in changes:
        slot = int((c["at"] - lo) // step)
        if 0 <= slot < n:
            src = "snds" if c["source"] == "snds" else rep.short_zone(c["source"])
            marks.append(Mark(slot, float(c["at"]), src, str(c["state"])))
    return Timeline(lo, step, rates, sevs, [s for s, _ in series], marks,
                    t.warning, t.critical, t.block)  # fmt: skip


async def ip_timeline(
    store: Any, config: EngineConfig, ip: str, now: float,
    window: float = 86400.0, slots: int = 96,
) -> Timeline:  # fmt: skip
    """Bounce rate of ``ip`` over ``window`` in ``slots`` slots (the last one holds now),
    with its listing and SNDS colour changes."""
    step = max(60, int(window) // slots // 60 * 60)
    hi = (int(now) // step + 1) * step  # slots on whole quarter hours; the last one is now's
    lo = hi - step * slots
    series = (await store.ip_series(lo, hi, step, [ip])).get(ip) or [(0, 0)] * slots
    reads = rep.reads_of(store)
    changes = await reads.changes(ip, float(lo)) if reads is not None else []
    return timeline_of(series, changes, lo, step, config.monitor.thresholds)
