"""The provider part of a check reads a chunk of IPs at a time and keeps only the IPs it can
say something about (issue 18.9): its decision equals the one over every (ip, provider) of
the window (the same actions, suspensions, resumes, and the observations the check acts
on), on a real SQLite store with many healthy IPs, IPs bad at one provider, an IP bad
everywhere, an expired suspension, signature hits and an open provider alert."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.alerts import BOUNCE_RATE, AlertState, dedup_key
from opsconsole.core.config import EngineConfig
from opsconsole.core.engine import provider_check
from opsconsole.core.events import Event, Kind
from opsconsole.core.ports import Changes
from opsconsole.core.provider_policy import Suspension
from opsconsole.core.sources.base import ParseStats
from opsconsole.core.stats import Severity
from opsconsole.storage.db import open_database
from opsconsole.storage.store import SqlStore

NOW = 1_800_000_000.0
DOMAINS = ("outlook.com", "gmail.com", "yahoo.com", "example.org", "icloud.com")


def traffic(rnd: random.Random) -> list[Event]:
    evs: list[Event] = []
    for i in range(700):
        ip = f"198.51.{i // 250}.{i % 250 + 1}"
        doms = rnd.sample(DOMAINS, 3)
        if i % 97 == 5 and "outlook.com" not in doms:
            doms[0] = "outlook.com"
        for dom in doms:
            sent = rnd.choice([3, 20, 60])
            rate = rnd.choice([0.0, 0.01, 0.02])
            if i % 97 == 5:  # bad at microsoft only
                sent, rate = (300, 0.45) if dom == "outlook.com" else (3000, 0.01)
            if i % 131 == 7:
                rate = 0.3  # bad everywhere
            for k in range(sent):
                kind = Kind.BOUNCED if k < int(sent * rate) else Kind.DELIVERED
                diag = "550 5.1.1 user unknown" if kind == Kind.BOUNCED else ""
                if kind == Kind.BOUNCED and i % 97 == 5 and dom == "outlook.com":
                    diag = "550 5.7.1 (S3150) blocked"  # a block signature: hits
                evs.append(Event(NOW - 300, kind, ip, None, False, dom, "5.1.1", diag))
    return evs


class WholeReads:
    """The same store without its chunked reads: the check's whole-window path."""

    def __init__(self, store: SqlStore) -> None:
        self.provider_store = store.provider_store


def open_alert(ip: str, provider: str) -> AlertState:
    return AlertState(
        id="a1", key=dedup_key(BOUNCE_RATE, ip, "", provider), rule=BOUNCE_RATE, ip=ip,
        subuser="", severity="critical", opened_at=NOW - 900, last_seen_at=NOW - 900,
        value=0.2, sent=100, provider=provider,
    )  # fmt: skip


def test_chunked_provider_decision_equals_whole_window(tmp_path: Path) -> None:
    async def go() -> None:
        engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
        store = SqlStore(engine)
        agg = BatchAggregate()
        agg.add_all(traffic(random.Random(3)))
        await store.commit_batch(
            source="t", fmt="pmta", source_path="", agg=agg, stats=ParseStats(),
            checkpoint=None, expected=None, now=NOW,
        )  # fmt: skip
        quiet = "198.51.1.200"  # a healthy IP with an expired suspension
        changes = Changes()
        changes.suspensions = [Suspension(quiet, "google", NOW - 60, "t", "k", NOW - 7200)]
        await store.commit(changes, NOW - 7200)
        config = EngineConfig(host="h")
        state = await store.engine_state(NOW)
        alert = open_alert("198.51.0.9", "yahoo")  # healthy now: resolution is observed
        state.open_alerts[alert.key] = alert
        lo, hi = int(NOW - 3600), int(NOW + 60)

        chunked = await provider_check.decide(store, config, state, NOW, lo, hi)
        whole = await provider_check.decide(WholeReads(store), config, state, NOW, lo, hi)

        def acted_on(obs: Any) -> bool:
            key = dedup_key(obs.rule, obs.ip, "", obs.provider)
            return obs.breach >= Severity.WARNING or key in state.open_alerts

        assert whole.actions and whole.suspend and whole.resume  # the data exercises them
        assert chunked.actions == whole.actions
        assert chunked.suspend == whole.suspend and chunked.resume == whole.resume
        want = [o for o in whole.observations if acted_on(o)]
        assert [o for o in chunked.observations if acted_on(o)] == want
        assert any(o.ip == alert.ip and o.provider == "yahoo" for o in want)
        # memory follows the IPs in trouble: far fewer readings than the window holds
        assert len(chunked.observations) < len(whole.observations) / 5
        await store.close()

    asyncio.run(go())
