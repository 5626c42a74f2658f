"""Issue 12 point 3 for (IP x provider): a suspension that expires while the IP is still
blocked there is extended (one audited suspend_provider naming it), not lifted."""

from __future__ import annotations

from opsconsole.core import provider_policy as pp
from opsconsole.core.stats import Thresholds, WindowStats

T = Thresholds()
NOW = 1_800_000_000.0
KEY = ("203.0.113.4", "microsoft")
# The IP's other traffic is healthy: a block at microsoft alone is the provider policy's
# (an IP as bad everywhere is left to the IP-wide policy).
ELSEWHERE = {("203.0.113.4", "google"): WindowStats(delivered=2970, bounced=30)}


def test_still_blocked_at_expiry_extends_healthy_resumes() -> None:
    bad = {KEY: WindowStats(delivered=174, bounced=126, soft_bounced=126), **ELSEWHERE}
    first = pp.evaluate(bad, {}, {}, [], T, pp.ProvidersConfig(), NOW, 3600.0)
    (s,) = first.suspend
    at = s.until
    ext = pp.evaluate(bad, {KEY: s}, {}, [], T, pp.ProvidersConfig(), at, 3600.0)
    assert ext.resume == ()
    assert [(a.name, a.reason) for a in ext.actions] == [
        ("suspend_provider",
         "bounce 42.00% of 300 sent at microsoft in 1h (extended: still blocked at expiry)"),
    ]  # fmt: skip
    (s2,) = ext.suspend
    assert s2.until == at + 6 * 3600
    healthy = {KEY: WindowStats(delivered=297, bounced=3), **ELSEWHERE}
    back = pp.evaluate(healthy, {KEY: s2}, {}, [], T, pp.ProvidersConfig(), s2.until, 3600.0)
    assert [a.name for a in back.actions] == ["resume_provider"] and back.resume == (KEY,)
