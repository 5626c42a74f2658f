"""The metrics' ``provider`` label stays bounded (top providers + ``other``), whatever the
number of providers, and no count is lost in the folding."""

from __future__ import annotations

import re
from typing import Any

from opsconsole.metrics import _labels, top_ips
from opsconsole.provider_metrics import provider_samples


def render(rep: dict[str, Any], top_n: int, top_providers: int) -> str:
    """The provider series as metrics.render writes them (name, labels, value)."""
    keep = top_ips(rep, top_n)
    return "\n".join(
        f"opsconsole_{name}{labels} {value:g}"
        for name, _help, samples in provider_samples(rep, keep, top_providers, _labels)
        for labels, value in samples
    )


SAMPLE = re.compile(r'^opsconsole_(provider_\w+)\{ip="([^"]*)",provider="([^"]*)"\} (\S+)$')


def report(n_ips: int, n_providers: int) -> dict[str, Any]:
    ips, rows = [], []
    for i in range(n_ips):
        ip = f"10.0.{i // 250}.{i % 250 + 1}"
        total = 0
        for p in range(n_providers):
            sent = 1000 - p * 7 + i  # provider p0 biggest, then p1 ...
            total += sent
            for su in ("a", "b"):
                rows.append({
                    "ip": ip, "subuser": su, "provider": f"p{p:03d}", "sent": sent,
                    "bounced": p % 5, "deferred": 1, "complaints": 0,
                    "severity": "block" if (p == 1 and su == "b") else "ok",
                    "suspended_until": "2026-01-01T06:00:00Z" if p == 1 and su == "a" else None,
                })  # fmt: skip
        rows.append({
            "ip": ip, "subuser": None, "provider": "other", "sent": 5, "bounced": 1,
            "deferred": 0, "complaints": 0, "severity": "ok", "suspended_until": None,
        })  # fmt: skip
        ips.append({"ip": ip, "sent": 2 * total + 5, "subusers": []} | _ip_defaults())
    return {
        "ips": ips, "providers": rows, "pools": [], "warmups": [], "alerts": [],
        "ingest": {"sources": []},
    }  # fmt: skip


def _ip_defaults() -> dict[str, Any]:
    return {
        "subuser": None,
        "bounced": 0,
        "deferred": 0,
        "complaints": 0,
        "bounce_rate": 0.0,
        "severity": "ok",
    }


def samples(text: str) -> list[tuple[str, str, str, float]]:
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            out.append((m[1], m[2], m[3], float(m[4])))
    return out


def test_provider_label_bounded_with_many_providers() -> None:
    rep = report(n_ips=30, n_providers=200)
    got = samples(render(rep, top_n=20, top_providers=5))
    provs = {p for _n, _ip, p, _v in got}
    assert provs == {"p000", "p001", "p002", "p003", "p004", "other"}
    ips = {ip for _n, ip, _p, _v in got}
    assert len(ips) == 20  # only the exported IPs
    # Every series has at most one sample per (ip, provider): at most 20 x 6.
    for name in ("provider_sent", "provider_bounced", "provider_deferred"):
        keys = [(ip, p) for n, ip, p, _v in got if n == name]
        assert len(keys) == len(set(keys)) == 20 * 6
    # Nothing lost: per exported IP, the provider series sum to the IP's rows.
    for ip in ips:
        want = sum(r["sent"] for r in rep["providers"] if r["ip"] == ip)
        assert sum(v for n, i, _p, v in got if n == "provider_sent" and i == ip) == want
    # Named providers carry the worst severity over subusers and the suspension.
    one = next(iter(sorted(ips)))
    sev = {p: v for n, i, p, v in got if n == "provider_severity" and i == one}
    sus = {p: v for n, i, p, v in got if n == "provider_suspended" and i == one}
    assert sev == {"p000": 1, "p001": 4, "p002": 1, "p003": 1, "p004": 1}
    assert sus == {"p000": 0, "p001": 1, "p002": 0, "p003": 0, "p004": 0}


def test_zero_top_providers_folds_everything() -> None:
    got = samples(render(report(n_ips=3, n_providers=40), top_n=50, top_providers=0))
    assert {p for _n, _ip, p, _v in got} == {"other"}
    assert not [s for s in got if s[0] in ("provider_severity", "provider_suspended")]
