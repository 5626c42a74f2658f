"""``--demo``: the real engine on simulated traffic.

The simulator's live feed appends real PowerMTA accounting lines to a file in a demo
folder, and the engine tails that file like any configured source, so a new user sees
the whole path (parse, buckets, policy, alerts) move within a minute. The demo keeps its
own database and starts fresh each run, unless ``--db`` names one. Each demo process has
its own folder (``demo/<pid>``), so a second ``make run`` never wipes the database of a demo
that is still open; folders of demos that have exited are removed.
"""

from __future__ import annotations

import os
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_demos(root: Path, keep: int) -> None:
    """Remove the folders of demos whose process is gone (and the pre-per-process files)."""
    if not root.is_dir():
        return
    for child in root.iterdir():
        if child.is_dir() and child.name.isdigit():
            if int(child.name) != keep and not _alive(int(child.name)):
                shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name in ("demo.db", "demo.db-wal", "demo.db-shm",
                                                "acct-demo.csv"):  # fmt: skip
            child.unlink(missing_ok=True)


def prepare_demo(
    settings: Settings, explicit_db: str | None = None, *, seed: int = 7, rate: float = 40.0,
    now: float | None = None,
) -> tuple[Settings, DemoFeed]:  # fmt: skip
    """Settings for the demo scenario and the feed that writes its traffic."""
    root = demo_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    clear_stale_demos(root, keep=os.getpid())
    folder = root / str(os.getpid())
    if explicit_db is None and folder.exists():
        shutil.rmtree(folder)  # a fresh story each run
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    feed_file = folder / "acct-demo.csv"
    if explicit_db is None:
        feed_file.unlink(missing_ok=True)
    # One healthy IP blocked at microsoft only: the provider rows, a provider-scoped alert
    # and a suspend_provider while the IP stays active in its pool (spec 11).
    scenario = Scenario.default().with_provider_block("203.0.113.1", "microsoft", 0.30)
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
