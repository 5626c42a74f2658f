"""The chunked check (issue 18.9) decides exactly what ``policy.evaluate`` over the whole
window decides: the same actions, observations (filtered as the check filters them),
members and plans, in the same order, whatever the chunk size."""

from __future__ import annotations

import random
from dataclasses import replace

from opsconsole.core.alerts import BOUNCE_RATE, WARMUP_OVER_QUOTA, dedup_key
from opsconsole.core.engine.check_chunks import ChunkedPolicy
from opsconsole.core.policy import Decision, Observation, PolicyConfig, evaluate
from opsconsole.core.rotation import MemberState
from opsconsole.core.stats import Severity, WindowStats
from opsconsole.core.warmup import DAY, SIX_WEEK, start_plan

CFG = PolicyConfig()
NOW = 1_772_445_600.0


def dataset(seed: int) -> tuple[dict[tuple[str, str], WindowStats], list[MemberState], list]:
    rnd = random.Random(seed)
    ips = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(600)]
    keys: dict[tuple[str, str], WindowStats] = {}
    for i, ip in enumerate(ips):
        if i % 7 == 3:
            continue  # a managed IP with no traffic in the window
        for sub in [""] if i % 3 else ["", "alpha", "beta"]:
            sent = rnd.choice([1, 5, 40, 100, 400])
            bounced = min(sent, int(sent * rnd.choice([0, 0, 0.02, 0.06, 0.12, 0.3])))
            keys[(ip, sub)] = WindowStats(
                delivered=sent - bounced, bounced=bounced, hard_bounced=bounced // 2,
                soft_bounced=bounced - bounced // 2, complaints=rnd.choice([0, 0, 0, 1]),
            )  # fmt: skip
    keys[("", "")] = WindowStats(delivered=50, bounced=10)  # unattributed: never judged
    members = [MemberState("bulk", ip) for ip in ips[::2]]
    members += [MemberState("vip", ip, state="deprioritized", weight=10.0) for ip in ips[::9]]
    plans = [start_plan(ip, SIX_WEEK, "bulk", NOW - 3 * DAY) for ip in ips[1::11]]
    plans[0] = replace(plans[0], state="completed")
    return keys, members, plans


def chunks(keys: dict[tuple[str, str], WindowStats], size: int) -> list[list]:
    """Address order, ``size`` IPs a chunk, an IP's keys together (storage/ip_stream)."""
    rows = sorted((ip, sub, st) for (ip, sub), st in keys.items() if ip)
    out: list[list] = []
    last = None
    for ip, sub, st in rows:
        if ip != last:
            if not out or len({r[0] for r in out[-1]}) >= size:
                out.append([])
            last = ip
        out[-1].append((ip, sub, st))
    return out


def test_chunked_decision_equals_whole_window() -> None:
    keys, members, plans = dataset(7)
    open_keys = {dedup_key(BOUNCE_RATE, "198.51.0.5", "", ""),
                 dedup_key(WARMUP_OVER_QUOTA, "198.51.0.2", "", "")}  # fmt: skip

    def keep(o: Observation) -> bool:
        return o.breach >= Severity.WARNING or dedup_key(o.rule, o.ip, o.subuser, "") in open_keys

    whole = evaluate(keys, members, plans, CFG, NOW)
    want = Decision(
        whole.actions, tuple(o for o in whole.observations if keep(o)), whole.plans,
        whole.members, whole.severities,
    )  # fmt: skip
    assert want.actions and any(o.rule == WARMUP_OVER_QUOTA for o in want.observations)
    results = []
    for size in (1, 7, 10**6):
        run = ChunkedPolicy(members, plans, CFG, NOW, keep)
        for c in chunks(keys, size):
            run.feed(c)
        got = run.finish()
        assert got.actions == want.actions, size
        assert got.observations == want.observations, size
        assert got.members == want.members and got.plans == want.plans, size
        # unchanged states are the very same objects (the check stores only what changed)
        assert [a is b for a, b in zip(got.members, members, strict=True)] == [
            a is b for a, b in zip(want.members, members, strict=True)
        ]
        results.append(got)
    assert results[0].actions == results[-1].actions
