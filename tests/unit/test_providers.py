"""Mailbox provider table: domains, operator overrides, MX and KumoMTA site mapping."""

from __future__ import annotations

import pytest

from opsconsole.core.provider_data import BUILTIN_DOMAINS, BUILTIN_MX
from opsconsole.core.providers import (
    OTHER,
    PROVIDERS_VERSION,
    ProviderPolicy,
    ProviderSettings,
    ProviderTable,
    is_public_suffix,
)
from opsconsole.core.stats import Thresholds


@pytest.mark.parametrize(
    ("domain", "provider"),
    [
        ("gmail.com", "google"),
        ("googlemail.com", "google"),
        ("GMAIL.COM.", "google"),
        ("  Gmail.Com ", "google"),
        ("hotmail.co.uk", "microsoft"),
        ("hotmail.com", "microsoft"),
        ("hotmail.co.th", "microsoft"),  # not listed: the label.* pattern catches it
        ("live.com.pt", "microsoft"),
        ("outlook.com", "microsoft"),
        ("outlook.sa", "microsoft"),
        ("msn.com", "microsoft"),
        ("windowslive.com", "microsoft"),
        ("yahoo.co.jp", "yahoo"),
        ("yahoo.com", "yahoo"),
        ("yahoo.com.br", "yahoo"),
        ("ymail.com", "yahoo"),
        ("rocketmail.com", "yahoo"),
        ("aol.com", "yahoo"),
        ("aim.com", "yahoo"),
        ("verizon.net", "yahoo"),
        ("icloud.com", "apple"),
        ("me.com", "apple"),
        ("mac.com", "apple"),
        ("comcast.net", "comcast"),
        ("att.net", "att"),
        ("sbcglobal.net", "att"),
        ("bellsouth.net", "att"),
        ("gmx.de", "gmx"),
        ("gmx.li", "gmx"),
        ("web.de", "gmx"),
        ("orange.fr", "orange"),
        ("wanadoo.fr", "orange"),
        ("mail.ru", "mailru"),
        ("bk.ru", "mailru"),
        ("inbox.ru", "mailru"),
        ("list.ru", "mailru"),
        ("yandex.ru", "yandex"),
        ("yandex.com.tr", "yandex"),
        ("ya.ru", "yandex"),
        ("qq.com", "qq"),
        ("foxmail.com", "qq"),
        ("163.com", "netease"),
        ("126.com", "netease"),
        ("proton.me", "proton"),
        ("protonmail.com", "proton"),
        ("zoho.com", "zoho"),
        ("fastmail.com", "fastmail"),
        ("t-online.de", "tonline"),
        ("libero.it", "libero"),
        ("naver.com", "naver"),
        ("example.com", OTHER),
        ("", OTHER),
        (".", OTHER),
        ("yahoo.evil.example", OTHER),  # not a public suffix after the label
        ("mail.yahoo.com", OTHER),  # subdomains are not recipient domains of the provider
        ("notgmail.com", OTHER),
        ("gmail.com.evil.example", OTHER),
    ],
)
def test_builtin_domains(domain: str, provider: str) -> None:
    assert ProviderTable().provider_of(domain) == provider


def test_cached_answer_equals_fresh_answer() -> None:
    t = ProviderTable()
    assert [t.provider_of("Hotmail.FR.") for _ in range(3)] == ["microsoft"] * 3
    assert t.provider_of("hotmail.fr") == "microsoft"


def test_cache_is_bounded_and_stays_correct() -> None:
    t = ProviderTable(cache_size=8)
    for i in range(100):
        assert t.provider_of(f"d{i}.example") == OTHER
        assert t.provider_of("gmail.com") == "google"
    assert len(t._cache) <= 8 and len(t._old) <= 8


def test_operator_entries_win() -> None:
    t = ProviderTable(
        {
            "acme": ["acme-mail.example", "hotmail.fr", "*.corp.example"],
            "microsoft": ["contoso.example"],
            "other": ["me.com"],
            "myyahoo": ["yahoo.*"],
        }
    )
    assert t.provider_of("acme-mail.example") == "acme"
    assert t.provider_of("hotmail.fr") == "acme"  # taken from the built-in microsoft
    assert t.provider_of("hotmail.de") == "microsoft"
    assert t.provider_of("eu.corp.example") == "acme"
    assert t.provider_of("corp.example") == OTHER  # *.x covers subdomains only
    assert t.provider_of("contoso.example") == "microsoft"
    assert t.provider_of("me.com") == OTHER
    assert t.provider_of("yahoo.co.jp") == "myyahoo"  # operator label.* beats built-in exact
    assert t.provider_of("ymail.com") == "yahoo"


def test_from_settings_uses_extra_domains_and_mx() -> None:
    s = ProviderSettings(
        extra_domains={"acme": ("acme.example",)},
        extra_mx={"acme": ("mx.acme.example",)},
        policies={"microsoft": ProviderPolicy(min_sample=50)},
        mx_rollup=True,
    )
    t = ProviderTable.from_settings(s)
    assert t.provider_of("acme.example") == "acme"
    assert t.provider_of_mx("in1.mx.acme.example") == "acme"
    assert t.provider_of_mx("mx.acme.example") == "acme"


@pytest.mark.parametrize("bad", ["", "*", "a*b.com", "*.", "foo..com", "-x.com", "x.*.com"])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="bad domain pattern"):
        ProviderTable({"acme": [bad]})


@pytest.mark.parametrize(
    ("mx", "provider"),
    [
        ("gmail-smtp-in.l.google.com", "google"),
        ("aspmx.l.google.com.", "google"),
        ("alt2.aspmx.l.google.com", "google"),
        ("aspmx2.googlemail.com", "google"),
        ("contoso-com.mail.protection.outlook.com", "microsoft"),
        ("hotmail-com.olc.protection.outlook.com", "microsoft"),
        ("mta5.am0.yahoodns.net", "yahoo"),
        ("mx-aol.mail.gm0.yahoodns.net", "yahoo"),
        ("mx01.mail.icloud.com", "apple"),
        ("MX02.MAIL.ICLOUD.COM", "apple"),
        ("mx1h1.comcast.net", "comcast"),
        ("al-ip4-mx-vip1.prodigy.net", "att"),
        ("mx00.emig.gmx.net", "gmx"),
        ("mx-ha03.web.de", "gmx"),
        ("smtp-in.orange.fr", "orange"),
        ("mxs.mail.ru", "mailru"),
        ("mx.yandex.net", "yandex"),
        ("mx1.qq.com", "qq"),
        ("163mx01.mxmail.netease.com", "netease"),
        ("mail.protonmail.ch", "proton"),
        ("mx.zoho.eu", "zoho"),
        ("in1-smtp.messagingengine.com", "fastmail"),
        ("mx00.t-online.de", "tonline"),
        ("mx.example.com", None),
        ("google.com.evil.example", None),
        ("notgoogle.com", None),
        ("", None),
    ],
)
def test_mx_rollup(mx: str, provider: str | None) -> None:
    assert ProviderTable().provider_of_mx(mx) == provider


@pytest.mark.parametrize(
    ("site", "provider"),
    [
        ("(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com:25", "google"),
        ("mta5.am0.yahoodns.net:25", "yahoo"),
        ("mx01.mail.icloud.com:25", "apple"),
        ("(mx01|mx02).mail.icloud.com:25", "apple"),
        ("contoso-com.mail.protection.outlook.com", "microsoft"),
        ("(mx1.example.org|mx1.qq.com)", "qq"),
        ("mx.example.com:25", None),
        ("[203.0.113.9]:25", None),
        ("", None),
    ],
)
def test_kumo_site(site: str, provider: str | None) -> None:
    t = ProviderTable()
    assert t.provider_of_site(site) == provider
    assert t.provider_of_site(site) == provider  # cached answer, None included


def test_domains_of() -> None:
    t = ProviderTable()
    ms = t.domains_of("microsoft")
    assert {"hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com", "msn.com"} <= (
        set(ms)
    )
    assert ms == sorted(set(ms))
    assert all(t.provider_of(d) == "microsoft" for d in ms)
    assert t.domains_of("apple") == ["icloud.com", "mac.com", "me.com"]
    assert t.domains_of("google") == ["gmail.com", "googlemail.com"]
    assert t.domains_of("nobody") == []


def test_domains_of_follows_operator_moves() -> None:
    t = ProviderTable({"acme": ["hotmail.fr", "acmemail.*"], "other": ["me.com"]})
    assert "hotmail.fr" not in t.domains_of("microsoft")
    assert t.domains_of("acme") == ["acmemail.com", "hotmail.fr"]
    assert t.domains_of("apple") == ["icloud.com", "mac.com"]


def test_providers_lists_every_name() -> None:
    t = ProviderTable({"acme": ["acme.example"], "other": ["me.com"]})
    assert t.providers() == sorted({*BUILTIN_DOMAINS, "acme"})
    assert set(BUILTIN_MX) <= set(BUILTIN_DOMAINS)


def test_every_builtin_concrete_domain_maps_to_its_provider() -> None:
    t = ProviderTable()
    for provider, patterns in BUILTIN_DOMAINS.items():
        for p in patterns:
            if "*" not in p:
                assert t.provider_of(p) == provider, p


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [("com", True), ("fr", True), ("co.uk", True), ("com.br", True), ("ne.jp", True)],
)
def test_public_suffix_yes(suffix: str, expected: bool) -> None:
    assert is_public_suffix(suffix) is expected


@pytest.mark.parametrize("suffix", ["", "evil.example", "co.uk.example", "c0m", "x", "abc.de"])
def test_public_suffix_no(suffix: str) -> None:
    assert is_public_suffix(suffix) is False


def test_provider_policy_apply() -> None:
    base = Thresholds()
    assert ProviderPolicy().apply(base) is base
    got = ProviderPolicy(min_sample=50, critical=0.03).apply(base)
    assert got == Thresholds(warning=base.warning, critical=0.03, block=base.block, min_sample=50)


def test_version_is_a_string() -> None:
    assert PROVIDERS_VERSION == "2026.12"
