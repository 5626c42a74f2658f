from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.settings import ConfigError, load_settings, redact_url, redacted

GOOD = """
[monitor]
check_interval = "1m"
window = "30m"
min_sample = 20
[monitor.thresholds]
warning = 0.04

[[sources]]
name = "pmta"
format = "pmta"
path = "/var/log/pmta/acct-*.csv"
ip_map = { vmta1 = "203.0.113.1" }

[[pools]]
name = "bulk"
members = [ { ip = "203.0.113.1", weight = 100, daily_cap = 100000 } ]

[warmup.schedules.custom-3]
stage_days = 2
daily_quotas = [100, 1000, 10000]

[[notify]]
kind = "slack"
url = "https://hooks.slack.example/services/T000/B000/SECRETTOKEN"
min_severity = "warning"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_file_values_and_durations(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert s.monitor.check_interval == 60
    assert s.monitor.window == 1800
    assert s.monitor.min_sample == 20
    assert s.monitor.thresholds.warning == 0.04
    assert s.monitor.thresholds.block == 0.15
    assert s.sources[0].ip_map == {"vmta1": "203.0.113.1"}
    assert s.warmup.schedules["custom-3"].daily_quotas == [100, 1000, 10000]
    assert s.monitor.policy_thresholds().min_sample == 20


def test_env_overrides_file_and_legacy_bounce_vars(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPSCONSOLE_MONITOR__MIN_SAMPLE", "50")
    monkeypatch.setenv("BOUNCE_CRITICAL_THRESHOLD", "0.08")
    monkeypatch.setenv("BOUNCE_ALERT_WEBHOOK_URL", "https://alerts.example/hook?token=abc")
    s = load_settings(write(tmp_path, GOOD))
    assert s.monitor.min_sample == 50
    assert s.monitor.thresholds.critical == 0.08
    assert s.monitor.thresholds.warning == 0.04  # file value kept alongside
    assert [n.kind for n in s.notify] == ["slack", "webhook"]


def test_command_line_wins(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPSCONSOLE_DB", "sqlite+aiosqlite:////env.db")
    s = load_settings(write(tmp_path, GOOD), db="sqlite+aiosqlite:////cli.db")
    assert s.db == "sqlite+aiosqlite:////cli.db"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:////var/lib/o.db", "sqlite+aiosqlite:////var/lib/o.db"),
        ("postgresql://ops@db1/ops", "postgresql+asyncpg://ops@db1/ops"),
        ("postgres://ops@db1/ops", "postgresql+asyncpg://ops@db1/ops"),
        ("postgresql+asyncpg://ops@db1/ops", "postgresql+asyncpg://ops@db1/ops"),
        ("sqlite+aiosqlite:////x.db", "sqlite+aiosqlite:////x.db"),
    ],
)
def test_a_plain_url_gets_the_async_driver(given: str, used: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPSCONSOLE_DB", given)
    assert load_settings().db == used
    assert load_settings(db=given).db == used


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[monitor]\ncheck_intervall = '5m'\n", "monitor.check_intervall: unknown key"),
        ("[monitor]\nmin_sample = 'many'\n", "monitor.min_sample"),
        ("[monitor]\ncheck_interval = 'soon'\n", "monitor.check_interval"),
        ("[[sources]]\nname='x'\nformat='exim'\npath='/x'\n", "sources.0.format"),
        ("[monitor.thresholds]\nwarning = 0.2\n", "thresholds must satisfy"),
        ("[monitor\n", "invalid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, text))
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_key_error_has_line_number(tmp_path: Path) -> None:
    p = write(tmp_path, "[monitor]\nwindow = '1h'\ncheck_intervall = '5m'\n")
    with pytest.raises(ConfigError) as e:
        load_settings(p)
    assert str(e.value).startswith(f"{p}:3: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_redacted(tmp_path: Path) -> None:
    data = redacted(load_settings(write(tmp_path, GOOD)))
    assert "SECRETTOKEN" not in str(data)
    assert data["notify"][0]["url"] == "https://hooks.slack.example/***"
    assert redact_url("https://user:pw@h.example:8443/x?t=1") == "https://h.example:8443/***"
