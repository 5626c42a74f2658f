"""The built-in mailbox-provider table: data only, read by :mod:`opsconsole.core.providers`.

Kept apart from the lookup code so a table update is a data-only diff with a version bump.
Concrete variants of ``label.*`` patterns are listed too: they make the common domains an exact
hit, and they are what ``ProviderTable.domains_of`` renders into MTA commands.
"""

from __future__ import annotations

from collections.abc import Mapping

# Bump on every change to the tables below: reports and audits record which table judged.
PROVIDERS_VERSION = "2026.12"


def _variants(label: str, suffixes: str) -> tuple[str, ...]:
    return tuple(f"{label}.{s}" for s in suffixes.split())


_HOTMAIL = "com co.uk fr de it es be nl ca com.au com.br com.ar co.jp se dk no fi gr ch at"
_LIVE = "com co.uk fr de it nl be ca com.au com.mx com.ar cl se dk no jp at ie"
_OUTLOOK = "com fr de it es be jp com.au com.br com.ar cl ie dk pt at cz sk kr in com.tr com.gr"
_YAHOO = (
    "com co.uk fr de it es ca ie se dk no gr com.br com.ar com.mx co.in in com.au co.nz "
    "co.jp com.tw com.hk com.sg co.id com.ph com.vn com.my co.za"
)
_GMX = "net de at ch com co.uk fr es"
_YANDEX = "ru com by kz ua com.tr"

BUILTIN_DOMAINS: Mapping[str, tuple[str, ...]] = {
    "google": ("gmail.com", "googlemail.com"),
    "microsoft": (
        "msn.com",
        "windowslive.com",
        "passport.com",
        *_variants("hotmail", _HOTMAIL),
        *_variants("live", _LIVE),
        *_variants("outlook", _OUTLOOK),
        "hotmail.*",
        "live.*",
        "outlook.*",
    ),
    "yahoo": (
        *_variants("yahoo", _YAHOO),
        "yahoo.*",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "aol.co.uk",
        "aol.fr",
        "aol.de",
        "aol.*",
        "aim.com",
        "verizon.net",
        "love.com",
        "wow.com",
        "games.com",
        "cs.com",
        "netscape.net",
    ),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "comcast": ("comcast.net",),
    "att": (
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "pacbell.net",
        "swbell.net",
        "flash.net",
        "prodigy.net",
        "nvbell.net",
        "ameritech.net",
        "snet.net",
        "wans.net",
    ),
    "gmx": (*_variants("gmx", _GMX), "gmx.*", "web.de", "mail.com"),
    "orange": ("orange.fr", "wanadoo.fr"),
    "mailru": ("mail.ru", "bk.ru", "inbox.ru", "list.ru", "internet.ru"),
    "yandex": (*_variants("yandex", _YANDEX), "yandex.*", "ya.ru", "narod.ru"),
    "qq": ("qq.com", "vip.qq.com", "foxmail.com"),
    "netease": ("163.com", "126.com", "yeah.net", "188.com", "vip.163.com"),
    "proton": ("proton.me", "protonmail.com", "protonmail.ch", "pm.me"),
    "zoho": ("zoho.com", "zohomail.com", "zoho.eu", "zohomail.eu", "zoho.in"),
    "fastmail": ("fastmail.com", "fastmail.fm"),
    "tonline": ("t-online.de", "magenta.de"),
    "libero": ("libero.it", "iol.it", "inwind.it", "blu.it"),
    "naver": ("naver.com",),
    "kakao": ("daum.net", "hanmail.net"),
    "seznam": ("seznam.cz", "email.cz", "post.cz"),
    "free": ("free.fr",),
    "sfr": ("sfr.fr", "neuf.fr"),
    "laposte": ("laposte.net",),
    "wp": ("wp.pl", "o2.pl"),
}

# MX host suffixes per provider: each covers itself and every host under it.
BUILTIN_MX: Mapping[str, tuple[str, ...]] = {
    "google": ("google.com", "googlemail.com"),
    "microsoft": ("protection.outlook.com", "outlook.com", "hotmail.com"),
    "yahoo": ("yahoodns.net", "yahoo.com"),
    "apple": ("icloud.com", "apple.com"),
    "comcast": ("comcast.net",),
    "att": ("prodigy.net", "att.net"),
    "gmx": ("gmx.net", "gmx.com", "web.de", "mail.com"),
    "orange": ("orange.fr", "wanadoo.fr"),
    "mailru": ("mail.ru",),
    "yandex": ("yandex.net", "yandex.ru"),
    "qq": ("qq.com",),
    "netease": ("netease.com", "163.com", "126.com"),
    "proton": ("protonmail.ch",),
    "zoho": ("zoho.com", "zoho.eu", "zoho.in"),
    "fastmail": ("messagingengine.com",),
    "tonline": ("t-online.de",),
    "libero": ("libero.it", "iol.it"),
    "naver": ("naver.com",),
    "kakao": ("hanmail.net", "daum.net"),
    "seznam": ("seznam.cz",),
    "free": ("free.fr",),
    "sfr": ("sfr.fr",),
    "laposte": ("laposte.net",),
    "wp": ("wp.pl",),
}
