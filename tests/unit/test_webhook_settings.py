"""``[webhooks]``: bad values named by key and line, secrets redacted, converted to
core/esp's frozen receiver config (an ESP without its key is not served)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.settings import ConfigError, load_settings, redacted
from opsconsole.wiring import receiver_config


def test_bad_listen_and_key_name_key_and_line(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[webhooks]\nlisten = "127.0.0.1"\n')
    with pytest.raises(ConfigError, match=r"c.toml:2: webhooks.listen"):
        load_settings(p)
    p.write_text('[webhooks]\nlisten = "127.0.0.1:8025"\nsendgrid_public_key = "s3cr@t!"\n')
    with pytest.raises(ConfigError, match=r"c.toml:3: webhooks.sendgrid_public_key") as e:
        load_settings(p)
    assert "s3cr@t!" not in str(e.value)


def test_secrets_redacted_and_wired(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text(
        '[webhooks]\nlisten = "127.0.0.1:8025"\nmailgun_signing_key = "key-TOPSECRET"\n'
        "[webhooks.ses]\n"
        'allowed_topics = ["arn:aws:sns:us-east-1:1:t"]\n'
        'ip_by_config_set = { "pool-a" = "203.0.113.10" }\n'
    )
    s = load_settings(p)
    assert "TOPSECRET" not in str(redacted(s))
    rc = receiver_config(s)
    assert rc.sendgrid is None and rc.mailgun is not None
    assert rc.mailgun.signing_key == "key-TOPSECRET"
    assert rc.ses is not None and rc.ses.allowed_topics == frozenset({"arn:aws:sns:us-east-1:1:t"})
    assert rc.ses.attribution.ip_by_config_set == {"pool-a": "203.0.113.10"}
    assert "TOPSECRET" not in repr(s.webhooks)
