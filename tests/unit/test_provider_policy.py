"""Per-provider judging: the IP at 40% at microsoft and 1% elsewhere is suspended at
microsoft only; per-provider thresholds; signature counts; migration keeps rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from opsconsole.core import provider_policy as pp
from opsconsole.core.aggregate import BatchAggregate
from opsconsole.core.alerts import describe
from opsconsole.core.events import Event, Kind
from opsconsole.core.providers import ProviderPolicy
from opsconsole.core.stats import Severity, Thresholds, WindowStats

T = Thresholds()
NOW = 1_800_000_000.0


def ws(sent: int, bounced: int) -> WindowStats:
    return WindowStats(delivered=sent - bounced, bounced=bounced, soft_bounced=bounced)


def test_block_at_one_provider_suspends_there_only() -> None:
    stats = {("203.0.113.4", "microsoft"): ws(300, 126), ("203.0.113.4", "google"): ws(700, 7)}
    d = pp.evaluate(stats, {}, {}, [], T, pp.ProvidersConfig(), NOW, 3600.0)
    assert [(a.name, a.ip, a.provider) for a in d.actions] == [
        ("suspend_provider", "203.0.113.4", "microsoft")
    ]
    (s,) = d.suspend
    assert (s.ip, s.provider, s.until) == ("203.0.113.4", "microsoft", NOW + 6 * 3600)
    assert d.severities[("203.0.113.4", "microsoft")] == Severity.BLOCK
    assert d.severities[("203.0.113.4", "google")] == Severity.OK
    # in force: no second suspension; expired: resume
    again = pp.evaluate(
        stats, {(s.ip, s.provider): s}, {}, [], T, pp.ProvidersConfig(), NOW + 60, 3600.0
    )
    assert again.actions == () and again.suspend == ()
    later = pp.evaluate(
        {}, {(s.ip, s.provider): s}, {}, [], T, pp.ProvidersConfig(), s.until, 3600.0
    )
    assert [a.name for a in later.actions] == ["resume_provider"] and later.resume == (
        ("203.0.113.4", "microsoft"),
    )


def test_per_provider_threshold_and_other_never_judged() -> None:
    cfg = pp.ProvidersConfig(policies={"microsoft": ProviderPolicy(block=0.5)})
    stats = {("1.2.3.4", "microsoft"): ws(300, 126), ("1.2.3.4", "other"): ws(300, 200)}
    d = pp.evaluate(stats, {}, {}, [], T, cfg, NOW, 3600.0)
    assert d.actions == ()
    assert d.severities == {("1.2.3.4", "microsoft"): Severity.CRITICAL}


def test_signature_threshold() -> None:
    cfg = pp.ProvidersConfig(signature_threshold=5)
    hits = {("1.2.3.4", "microsoft", "ms.s3150"): 5, ("1.2.3.4", "yahoo", "yahoo.ts03"): 4}
    d = pp.evaluate({}, {}, hits, [], T, cfg, NOW, 3600.0)
    got = {(o.provider, o.breach) for o in d.observations}
    assert got == {("microsoft", Severity.BLOCK), ("yahoo", Severity.OK)}


def test_title_names_provider() -> None:
    title, _ = describe(
        "bounce_rate", "critical", "203.0.113.4", "", 0.42, 300, {"provider": "microsoft"}
    )
    assert title == "IP 203.0.113.4 blocked at microsoft: 42.00% of 300 sent"


def test_aggregate_counts_per_provider_and_signatures() -> None:
    evs = [
        Event(60.0, Kind.BOUNCED, "1.1.1.1", None, False, "hotmail.co.uk", "5.7.1",
              "550 5.7.1 Unfortunately, messages from [1.1.1.1] weren't sent. (S3150)"),
        Event(61.0, Kind.DELIVERED, "1.1.1.1", None, False, "gmail.com"),
        Event(62.0, Kind.DELIVERED, "1.1.1.1", None, False, "example.org"),
        Event(63.0, Kind.COMPLAINED, "1.1.1.1", None, False, ""),
    ]  # fmt: skip
    agg = BatchAggregate()
    agg.add_all(evs)
    assert sorted(agg.rows()) == [
        ("1.1.1.1", "", "", 60, 0, 0, 0, 0, 0, 1),
        ("1.1.1.1", "", "google", 60, 1, 0, 0, 0, 0, 0),
        ("1.1.1.1", "", "microsoft", 60, 0, 1, 0, 1, 0, 0),
        ("1.1.1.1", "", "other", 60, 1, 0, 0, 0, 0, 0),
    ]
    assert [(ip, p, m, n) for ip, p, _s, m, n in agg.hit_rows()] == [
        ("1.1.1.1", "microsoft", 60, 1)
    ]


def test_migration_keeps_bucket_rows(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from opsconsole.storage import migrations
    from opsconsole.storage.db import migrate

    db = tmp_path / "m.db"
    eng = create_engine(f"sqlite:///{db}")
    with eng.begin() as conn:
        for v, step in migrations.steps():
            if v < 7:
                step(conn)
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
            " applied_at FLOAT)"
        )
        for v, _ in migrations.steps():
            if v < 7:
                conn.exec_driver_sql(f"INSERT INTO schema_version VALUES ({v}, 0)")
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(bucket)")]
    con.close()
    assert "provider" not in cols  # v001 made the old shape: put rows in it, then migrate
    if True:
        con = sqlite3.connect(db)
        con.execute(
            "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft, deferred,"
            " complaints) VALUES ('1.1.1.1', '', 60, 5, 1, 0, 1, 2, 0)"
        )
        con.commit()
        con.close()
        with eng.begin() as conn:
            migrate(conn)
        con = sqlite3.connect(db)
        assert con.execute("SELECT * FROM bucket").fetchall() == [
            ("1.1.1.1", "", "", 60, 5, 1, 0, 1, 2, 0)
        ]
        con.close()
