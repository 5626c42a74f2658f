"""Per-(ip, provider) metric series with a bounded ``provider`` label.

The label set stays bounded whatever the traffic: only the exported IPs (``[metrics]
top_ips``) get series, and only the ``[providers] metrics_top`` providers with the most sent
in the window (over every IP) keep their name; every other provider's counts, and ``other``,
go under ``provider="other"``. Counts are summed over subusers: the (ip, provider) grain the
policy judges. Severity and suspension are shown for named providers only (the folded
``other`` is many providers, judged by none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

OTHER = "other"


def top_providers(rows: Iterable[dict[str, Any]], n: int) -> set[str]:
    """The ``n`` named providers with the most sent (ties by name)."""
    sent: dict[str, int] = {}
    for r in rows:
        if r["provider"] and r["provider"] != OTHER:
            sent[r["provider"]] = sent.get(r["provider"], 0) + int(r["sent"])
    ranked = sorted(sent, key=lambda p: (-sent[p], p))
    return set(ranked[: max(0, n)])


def provider_samples(
    report: dict[str, Any], keep_ips: set[str], n: int, labels: Callable[..., str]
) -> list[tuple[str, str, list[tuple[str, float]]]]:
    """(metric name, help, samples) for the provider series."""
    rows = [r for r in report.get("providers", []) if r["ip"] in keep_ips]
    named = top_providers(report.get("providers", []), n)
    counts: dict[tuple[str, str], list[int]] = {}
    severity: dict[tuple[str, str], str] = {}
    suspended: dict[tuple[str, str], int] = {}
    for r in rows:
        prov = r["provider"] if r["provider"] in named else OTHER
        key = (r["ip"], prov)
        c = counts.setdefault(key, [0, 0, 0, 0])
        c[0] += int(r["sent"])
        c[1] += int(r["bounced"])
        c[2] += int(r["deferred"])
        c[3] += int(r["complaints"])
        if prov != OTHER:
            severity[key] = _worse(severity.get(key), r["severity"])
            suspended[key] = max(suspended.get(key, 0), 1 if r["suspended_until"] else 0)
    keys = sorted(counts)
    lab = {k: labels(ip=k[0], provider=k[1]) for k in keys}
    from opsconsole.metrics import SEVERITY_LEVEL

    return [
        ("provider_sent", "Delivered plus bounced in the window, per IP and provider "
         "(top providers, the rest as other).", [(lab[k], counts[k][0]) for k in keys]),
        ("provider_bounced", "Bounced in the window, per IP and provider.",
         [(lab[k], counts[k][1]) for k in keys]),
        ("provider_deferred", "Deferred in the window, per IP and provider.",
         [(lab[k], counts[k][2]) for k in keys]),
        ("provider_complaints", "Complaints in the window, per IP and provider.",
         [(lab[k], counts[k][3]) for k in keys]),
        ("provider_severity", "Per IP at a named provider: 0 insufficient .. 4 block.",
         [(lab[k], SEVERITY_LEVEL.get(severity[k], 0)) for k in keys if k in severity]),
        ("provider_suspended", "1 while the IP is suspended at that provider.",
         [(lab[k], suspended[k]) for k in keys if k in suspended]),
    ]  # fmt: skip


_RANK = ("insufficient", "ok", "warning", "critical", "block")


def _worse(a: str | None, b: str) -> str:
    if a is None:
        return b
    return a if _RANK.index(a) >= _RANK.index(b) else b
