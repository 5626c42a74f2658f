"""Text from logs made safe to show on a terminal: pure, no I/O.

Log lines are attacker-controlled (a remote server's diagnostic, a tenant name from message
metadata). :func:`clean` is what every display sink applies before printing one:

* terminal escape sequences become one ``?`` each, whole: CSI (``ESC [ ... final``, 8-bit
  ``0x9b``), OSC (``ESC ]``, incl. set-window-title and hyperlinks, up to BEL or ST),
  DCS/SOS/PM/APC (``ESC P``/``X``/``^``/``_`` up to ST), and two-character escapes
  (``ESC c``, ``ESC 7``...); an unterminated string sequence runs to the end of the text;
* every other C0 control (NUL, TAB, LF, CR...), DEL and C1 control becomes a visible
  ``\\xNN``;
* bidi controls and other invisible format characters (U+061C, U+200B-U+200F,
  U+2028-U+202E, U+2060-U+2069, U+FEFF) and lone surrogates become a visible ``\\uNNNN``;
* the result has at most ``limit`` characters (cut with a final ``…``).

Printable text, including any non-ASCII letters, is left as it is.
"""

from __future__ import annotations

import re

_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings
    r"|\x1b[ -/]*[0-~]?"  # other escapes (ESC alone at the end too)
)
_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(text: str, limit: int) -> str:
    """``text`` without control/escape/bidi characters, at most ``limit`` characters."""
    if limit <= 0:
        return ""
    # Escaping at most quadruples a character (6 for \\uNNNN): more input cannot show.
    text = text[: limit * 6 + 6]
    if _CHARS.search(text) is not None:
        text = _CHARS.sub(_visible, _SEQUENCES.sub("?", text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


DISPLAY_LIMIT = 1000


def shown(value: object, limit: int = DISPLAY_LIMIT) -> str:
    """Any value as a display string that is safe on a terminal (None as '')."""
    return "" if value is None else clean(str(value), limit)
