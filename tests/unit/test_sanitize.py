"""core.sanitize.clean: nothing a log line holds can drive the terminal."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsconsole.core.sanitize import clean

BAD = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("550 5.1.1 no such user", "550 5.1.1 no such user"),
        ("héllo «wörld» 你好", "héllo «wörld» 你好"),
        ("a\x1b[31mred\x1b[0m b", "a?red? b"),  # CSI colour
        ("a\x1b[2J\x1b[Hb", "a??b"),  # clear screen, home
        ("\x1b]0;pwned title\x07ok", "?ok"),  # OSC set-window-title, BEL
        ("\x1b]2;title\x1b\\ok", "?ok"),  # OSC, ST
        ("\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "?link?"),  # OSC 8 hyperlink
        ("\x1bPq#0;2;0;0;0\x1b\\after", "?after"),  # DCS (sixel)
        ("\x1b_apc\x9cafter", "?after"),  # APC, 8-bit ST
        ("\x9b31mx", "?x"),  # 8-bit CSI
        ("\x9d0;t\x07x", "?x"),  # 8-bit OSC
        ("\x1b]0;never terminated", "?"),  # runs to the end
        ("a\x1bcb", "a?b"),  # RIS (full reset)
        ("end\x1b", "end?"),
        ("nul\x00byte", "nul\\x00byte"),
        ("tab\there\r\nnext", "tab\\x09here\\x0d\\x0anext"),
        ("del\x7f c1\x85", "del\\x7f c1\\x85"),
        ("user\u202egnp.exe", "user\\u202egnp.exe"),  # RLO bidi override
        ("a\u2066b\u2069c\u200fd", "a\\u2066b\\u2069c\\u200fd"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("line\u2028sep", "line\\u2028sep"),
        ("lone\udcffsurrogate", "lone\\udcffsurrogate"),
    ],
)
def test_clean(raw: str, want: str) -> None:
    assert clean(raw, 1000) == want


def test_limit() -> None:
    assert clean("x" * 50, 10) == "x" * 9 + "…"
    assert clean("x" * 10, 10) == "x" * 10
    assert len(clean("\x00" * 50, 10)) == 10
    assert clean("abc", 0) == ""
    assert clean("abc", 1) == "…"
    assert len(clean("y" * 10_000_000, 1000)) == 1000


@settings(max_examples=300, deadline=None)
@given(text=st.text(), limit=st.integers(0, 200))
def test_output_is_always_safe_and_bounded(text: str, limit: int) -> None:
    out = clean(text, limit)
    assert BAD.search(out) is None
    assert len(out) <= limit


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(["\x1b", "[", "]", "P", "\\", "\x07", "0", ";", "a"])))
def test_escape_soup_is_safe(text: str) -> None:
    assert BAD.search(clean(text, 500)) is None
