"""``--demo``: the real engine on simulated traffic.

The simulator's live feed appends real PowerMTA accounting lines to a file in a demo
folder, and the engine tails that file like any configured source, so a new user sees
the whole path (parse, buckets, policy, alerts) move within a minute. The demo keeps its
own database and starts fresh each run, unless ``--db`` names one.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from platformdirs import user_data_path

from opsconsole.settings import Settings
from opsconsole.simulator import DEMO_MONITOR, LiveFeed, Scenario

DEMO_SCHEDULE = {"stage_days": 1, "daily_quotas": [5000, 10000, 20000, 40000]}


class DemoFeed:
    """Appends the feed's new lines to ``path`` each time the engine ticks."""

    def __init__(self, feed: LiveFeed, path: Path, fmt: str = "pmta") -> None:
        self.feed = feed
        self.path = path
        self.fmt = fmt

    def write(self, now: float) -> int:
        lines = self.feed.lines_until(self.fmt, now)
        if lines:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        return len(lines)


def demo_dir() -> Path:
    return user_data_path("opsconsole", appauthor=False) / "demo"


def prepare_demo(
    settings: Settings, explicit_db: str | None = None, *, seed: int = 7, rate: float = 40.0,
    now: float | None = None,
) -> tuple[Settings, DemoFeed]:  # fmt: skip
    """Settings for the demo scenario and the feed that writes its traffic."""
    folder = demo_dir()
    if explicit_db is None and folder.exists():
        shutil.rmtree(folder)  # a fresh story each run
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    feed_file = folder / "acct-demo.csv"
    if explicit_db is None:
        feed_file.unlink(missing_ok=True)
    scenario = Scenario.default()
    cfg: dict[str, Any] = scenario.config_dict(sources={"pmta": str(feed_file)})
    for w in cfg["warmups"]:
        w["schedule"] = "demo"
    data = settings.model_dump()
    data.update(
        db=explicit_db or f"sqlite+aiosqlite:///{folder / 'demo.db'}",
        sources=cfg["sources"],
        pools=cfg["pools"],
        warmups=cfg["warmups"],
    )
    data["monitor"].update(DEMO_MONITOR)
    data["warmup"]["schedules"]["demo"] = DEMO_SCHEDULE
    data["notify"] = [
        {k: getattr(v, "get_secret_value", lambda v=v: v)() for k, v in n.model_dump(
            exclude_unset=True, by_alias=True).items()}
        for n in settings.notify
    ]  # fmt: skip
    demo_settings = Settings.model_validate(data)
    start = (time.time() if now is None else now) - 15  # a little history at once
    feed = LiveFeed(scenario, seed, rate, start=start)
    return demo_settings, DemoFeed(feed, feed_file)
