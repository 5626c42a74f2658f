"""Per-provider warmup quotas on a real SQLite store through run_check: a schedule's
``per_provider = { microsoft = [...] }`` judges the warming IP's microsoft sent count today
against its own quota (provider-scoped warmup_over_quota), the IP-wide quota stays as is,
and the alert resolves once the plan's day turns over."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.engine.check import run_check
from opsconsole.core.engine.setup import apply_config
from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.base import ParseStats
from opsconsole.core.views import build_report
from opsconsole.settings import load_settings
from opsconsole.storage.store import open_store
from opsconsole.wiring import engine_config

IP = "198.51.100.20"
START = 1_800_000_000.0


def events(ts: float, per_domain: dict[str, int]) -> list[Event]:
    return [
        Event(ts, Kind.DELIVERED, IP, None, False, dom)
        for dom, n in per_domain.items()
        for _ in range(n)
    ]


def test_microsoft_quota_judged_on_microsoft_sent(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'db = "sqlite+aiosqlite:///{tmp_path}/o.db"\nhost = "h"\n'
        "[warmup.schedules.careful]\nstage_days = 1\ndaily_quotas = [5000, 10000]\n"
        "per_provider = { microsoft = [100, 200], yahoo = [1000] }\n"
        f'[[warmups]]\nip = "{IP}"\nschedule = "careful"\n'
    )

    async def go() -> None:
        settings = load_settings(cfg)
        config = engine_config(settings)
        assert config.warmup.schedules["careful"].per_provider == {
            "microsoft": (100, 200), "yahoo": (1000,),
        }  # fmt: skip
        store = await open_store(settings.db)
        try:
            await apply_config(store, config, START)

            async def send(ts: float, per_domain: dict[str, int]) -> None:
                agg = BatchAggregate()
                agg.add_all(events(ts, per_domain))
                await store.commit_batch(
                    source="t", fmt="jsonl", source_path="", agg=agg, stats=ParseStats(),
                    checkpoint=None, expected=None, now=ts,
                )  # fmt: skip

            # 99 + 2 = 101 at microsoft (over 100), 900 at yahoo (under 1000), 1500 at google:
            # 2501 in all, under the IP-wide 5000.
            await send(START + 60, {"outlook.com": 99, "hotmail.com": 2, "yahoo.com": 900,
                                    "gmail.com": 1500})  # fmt: skip
            now = START + 600
            await run_check(store, config, now, {})
            rep = await build_report(store, config, now=now)
            quota = [a for a in rep["alerts"] if a["rule"] == "warmup_over_quota"]
            assert [(a["ip"], a["provider"], a["state"]) for a in quota] == [
                (IP, "microsoft", "firing")
            ]
            assert quota[0]["title"] == f"IP {IP} over its microsoft warmup quota: 101 sent today"
            assert "quota 100/day at stage 1/2" in quota[0]["message"]

            # The next plan day (stage 2: microsoft quota 200): 150 is under it; resolves.
            day2 = START + 86400 + 60
            await send(day2, {"outlook.com": 150})
            for k in range(4):  # recover_checks
                await run_check(store, config, day2 + 60 + k * 300, {})
            rep = await build_report(store, config, now=day2 + 1000)
            quota = [a for a in rep["alerts"] if a["rule"] == "warmup_over_quota"]
            assert [(a["provider"], a["state"]) for a in quota] == [("microsoft", "resolved")]
        finally:
            await store.close()

    asyncio.run(go())
