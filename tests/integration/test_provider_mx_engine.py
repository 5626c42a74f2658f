"""MX rollup end to end: a real engine (make_runtime, a real SQLite file, a fake clock) reading
a JSONL source, resolving unknown domains against a DNS server on 127.0.0.1 between checks.

The read that first sees a domain counts it as ``other`` (ingest never waits for DNS); once
the service has resolved it, later events count at the MX's provider. Answers are cached
(one query per domain), a failing resolver is never fatal, and without ``mx_rollup`` no
query is made at all."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from opsconsole.core.engine.mx_service import MxRollupService
from opsconsole.core.engine.setup import apply_config
from opsconsole.core.events import Event, Kind
from opsconsole.core.sources.jsonl import event_to_jsonl
from opsconsole.core.views import build_report
from opsconsole.settings import load_settings
from opsconsole.storage.store import open_store
from opsconsole.wiring import engine_config, make_runtime
from tests.helpers import dns_server as dns
from tests.helpers.clock import FakeClock
from tests.helpers.dns_server import DnsServer

dns_server = dns.dns_server
IP = "203.0.113.4"


def write_config(tmp: Path, providers: str) -> Path:
    cfg = tmp / "config.toml"
    (tmp / "logs").mkdir()
    cfg.write_text(
        f'db = "sqlite+aiosqlite:///{tmp}/o.db"\nhost = "t"\n'
        f'[[sources]]\nname = "j"\nformat = "jsonl"\npath = "{tmp}/logs/*.jsonl"\n'
        f"[providers]\n{providers}\n"
    )
    return cfg


def write(tmp: Path, name: str, clock: FakeClock, per_domain: dict[str, tuple[int, int]]) -> None:
    lines = []
    for dom, (sent, bounced) in per_domain.items():
        for i in range(sent):
            kind = Kind.BOUNCED if i < bounced else Kind.DELIVERED
            lines.append(event_to_jsonl(Event(clock() - 30, kind, IP, None, True, dom, "5.1.1")))
    tmp_file = tmp / "logs" / f".{name}.tmp"
    tmp_file.write_text("\n".join(lines) + "\n")
    tmp_file.rename(tmp / "logs" / f"{name}.jsonl")


async def start(cfg: Path, clock: FakeClock) -> tuple[Any, Any, MxRollupService | None]:
    settings = load_settings(cfg)
    store = await open_store(settings.db)
    await apply_config(store, engine_config(settings), clock())
    rt = make_runtime(settings, store, clock=clock)
    svcs = [s for s in rt.services if isinstance(s, MxRollupService)]
    return rt, store, svcs[0] if svcs else None


async def tick(rt: Any, svc: MxRollupService | None) -> None:
    await rt.tick(force_check=True)
    if svc is not None and svc.task is not None:
        await asyncio.wait_for(svc.task, 30)


def by_provider(rep: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {r["provider"]: (r["sent"], r["bounced"]) for r in rep["providers"] if r["ip"] == IP}


def test_unknown_domains_roll_up_after_resolution(tmp_path: Path, dns_server: DnsServer) -> None:
    dns_server.set_mx("acme.test", (10, "alt1.aspmx.l.google.com"), (1, "aspmx.l.google.com"))
    dns_server.set_mx("contoso.test", (0, "contoso-test.mail.protection.outlook.com"))
    dns_server.set_mx("self.test", (10, "mx.self.test"))
    dns_server.fail("broken.test", "SERVFAIL")
    cfg = write_config(tmp_path, f'mx_rollup = true\nnameservers = ["{dns_server.nameserver}"]')
    clock = FakeClock()

    async def go() -> None:
        rt, store, svc = await start(cfg, clock)
        assert svc is not None
        try:
            doms = {"acme.test": (10, 1), "contoso.test": (20, 5), "self.test": (4, 0),
                    "broken.test": (3, 3), "gmail.com": (7, 0)}  # fmt: skip
            write(tmp_path, "a", clock, doms)
            await tick(rt, svc)  # read (all unknown -> other), then resolve off the hot path
            rep = await build_report(store, rt.config, now=clock())
            assert by_provider(rep) == {"google": (7, 0), "other": (37, 9)}
            clock.advance(60)
            write(tmp_path, "b", clock, doms)
            await tick(rt, svc)
            rep = await build_report(store, rt.config, now=clock())
            assert by_provider(rep) == {
                "google": (7 + 10 + 7, 1),
                "microsoft": (20, 5),
                "other": (37 + 4 + 3, 9 + 3),
            }
            clock.advance(60)
            write(tmp_path, "c", clock, {"acme.test": (1, 0)})
            await tick(rt, svc)
            # Cached, negatives included: one query per domain over three reads.
            assert [dns_server.count(d) for d in ("acme.test", "contoso.test", "self.test")] == [
                1, 1, 1,
            ]  # fmt: skip
            assert svc.learned == 2 and svc.failures == 0
        finally:
            await rt.close()
            await store.close()

    asyncio.run(go())


def test_off_unless_configured(tmp_path: Path, dns_server: DnsServer) -> None:
    dns_server.set_mx("acme.test", (1, "aspmx.l.google.com"))
    cfg = write_config(tmp_path, f'nameservers = ["{dns_server.nameserver}"]')
    clock = FakeClock()

    async def go() -> None:
        rt, store, svc = await start(cfg, clock)
        assert svc is None
        try:
            write(tmp_path, "a", clock, {"acme.test": (5, 0)})
            await tick(rt, None)
            clock.advance(60)
            write(tmp_path, "b", clock, {"acme.test": (5, 0)})
            await tick(rt, None)
            rep = await build_report(store, rt.config, now=clock())
            assert by_provider(rep) == {"other": (10, 0)}
            assert dns_server.total_queries == 0
        finally:
            await rt.close()
            await store.close()

    asyncio.run(go())


def test_dead_resolver_is_not_fatal(tmp_path: Path) -> None:
    # A nameserver on 127.0.0.1 where nothing listens: every lookup times out.
    cfg = write_config(
        tmp_path, 'mx_rollup = true\nnameservers = ["127.0.0.1:9"]\nmx_timeout = "1s"'
    )
    clock = FakeClock()

    async def go() -> None:
        rt, store, svc = await start(cfg, clock)
        assert svc is not None
        try:
            write(tmp_path, "a", clock, {"acme.test": (5, 1)})
            await tick(rt, svc)
            clock.advance(60)
            write(tmp_path, "b", clock, {"acme.test": (5, 1)})
            await tick(rt, svc)
            rep = await build_report(store, rt.config, now=clock())
            assert by_provider(rep) == {"other": (10, 2)}
        finally:
            await rt.close()
            await store.close()

    asyncio.run(go())
