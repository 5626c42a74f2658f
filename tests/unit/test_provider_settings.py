"""``[providers]`` settings: validated with key and line, built into ProvidersConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.core.engine.provider_check import tools
from opsconsole.core.providers import ProviderPolicy
from opsconsole.settings import ConfigError, load_settings
from opsconsole.wiring import engine_config

GOOD = """\
[providers]
reenable_after = "2h"
signature_threshold = 3
signature_window = "5m"
mx_rollup = true
nameservers = ["127.0.0.1:5353", "[::1]:53"]
mx_cache_ttl = "1h"
metrics_top = 4

[providers.domains]
acme = ["acme.example", "*.acme.example"]
other = ["spam-trap.example"]

[providers.policy.microsoft]
block = 0.2
min_sample = 50

[providers.policy.acme]
warning = 0.01

[[providers.signatures]]
id = "acme.blk"
provider = "acme"
pattern = "ACME-BLK-\\\\d+"
meaning = "acme blocklist"
"""


def load(tmp_path: Path, text: str) -> object:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return load_settings(p)


def test_built_into_the_engine_config(tmp_path: Path) -> None:
    cfg = engine_config(load(tmp_path, GOOD)).providers  # type: ignore[arg-type]
    assert cfg.reenable_after == 7200.0
    assert (cfg.signature_threshold, cfg.signature_window) == (3, 300.0)
    assert cfg.mx_rollup and cfg.mx_nameservers == ("127.0.0.1:5353", "[::1]:53")
    assert (cfg.mx_cache_ttl, cfg.metrics_top) == (3600.0, 4)
    assert cfg.policies == {
        "microsoft": ProviderPolicy(min_sample=50, block=0.2),
        "acme": ProviderPolicy(warning=0.01),
    }
    table, sigs = tools(cfg)
    assert table.provider_of("mail.acme.example") == "acme"
    assert table.provider_of("spam-trap.example") == "other"
    assert table.provider_of("outlook.com") == "microsoft"
    sig = sigs.match("550 rejected ACME-BLK-42 see url")
    assert sig is not None and (sig.id, sig.provider, sig.meaning) == (
        "acme.blk", "acme", "acme blocklist",
    )  # fmt: skip


def test_defaults_are_the_old_defaults(tmp_path: Path) -> None:
    from opsconsole.core.provider_policy import ProvidersConfig

    cfg = engine_config(load(tmp_path, "")).providers  # type: ignore[arg-type]
    assert cfg == ProvidersConfig(metrics_top=10)


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ("[providers.policy.nosuch]\nblock = 0.2\n", ":1: providers.policy.nosuch:",
         "unknown provider 'nosuch'"),
        ("[providers]\nx = 1\n[providers.policy.yahoo]\nwarning = 0.3\ncritical = 0.2\n",
         ":2: providers.x:", "unknown key"),
        ("[providers.policy.yahoo]\nwarning = 0.3\ncritical = 0.2\n",
         ":1: providers.policy.yahoo:", "warning <= critical <= block"),
        ('[providers]\nnameservers = ["127.0.0.1:53", "dns.example"]\n',
         ":2: providers.nameservers:", "bad nameserver 'dns.example'"),
        ('[providers]\nnameservers = ["127.0.0.1:99999"]\n', ":2: providers.nameservers:",
         "bad nameserver"),
        ('[providers]\n\n[[providers.signatures]]\nid = "x"\npattern = "a(b"\n',
         ":5: providers.signatures.0.pattern:", "bad regex"),
        ('[[providers.signatures]]\nid = "x"\nprovider = "acme"\npattern = "ab"\n',
         ":3: providers.signatures.0.provider:", "unknown provider 'acme'"),
        ('[providers.domains]\nacme = ["bad domain!"]\n', ":2: providers.domains.acme:",
         "bad domain pattern"),
        ('[providers]\nreenable_after = "soon"\n', ":2: providers.reenable_after:", ""),
    ],
)  # fmt: skip
def test_bad_values_name_key_and_line(tmp_path: Path, text: str, where: str, why: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    msg = str(e.value)
    assert where in msg and why in msg, msg
    assert "\n" not in msg
