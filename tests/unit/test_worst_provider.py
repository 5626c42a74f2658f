"""The IPs panel's worst-provider cell names the rate that makes the provider worst: its
bounce rate, or its complaint rate (marked ``c``) when complaints are what breach."""

from __future__ import annotations

from typing import Any

from opsconsole.core.config import EngineConfig
from opsconsole.core.ip_console import worst_providers
from opsconsole.tui.panels.ips import provider_cell


def prow(ip: str, provider: str, delivered: int, bounced: int, complaints: int) -> dict[str, Any]:
    return {"ip": ip, "subuser": None, "provider": provider, "delivered": delivered,
            "bounced": bounced, "hard_bounced": bounced, "soft_bounced": 0, "deferred": 0,
            "complaints": complaints}  # fmt: skip


def test_bounces_or_complaints_make_the_worst_provider() -> None:
    report = {
        "ips": [
            {"ip": "192.0.2.1", "severity": "ok", "subusers": []},
            {"ip": "192.0.2.2", "severity": "ok", "subusers": []},
        ],
        "providers": [
            prow("192.0.2.1", "microsoft", 70, 30, 0),  # 30% bounces: block
            prow("192.0.2.1", "google", 900, 9, 0),
            prow("192.0.2.2", "google", 990, 10, 5),  # 1% bounces, 0.5% complaints: block
            prow("192.0.2.2", "yahoo", 500, 5, 0),
        ],
    }
    worst = worst_providers(report, EngineConfig(host="h"))
    a, b = worst[("192.0.2.1", None)], worst[("192.0.2.2", None)]
    assert (a.provider, a.severity, a.complaint_rate) == ("microsoft", "block", None)
    assert provider_cell(a) == "microsoft 30%" and provider_cell(a, narrow=True) == "msft 30%"
    assert (b.provider, b.severity, b.complaint_rate) == ("google", "block", 5 / 990)
    assert provider_cell(b) == "google 0.5%c"
