"""Hostile text made safe for the place it goes: one module, one character set, named variants.

Crawled pages, RDAP answers, DNS records and user input reach terminals, mail headers and bodies,
JSON (CLI, API, exports), CSV/GraphML cells and HTML. Each variant below promises one thing about
its output; tests/hostile/test_text_safety.py runs every variant against one hostile corpus.

The characters that are never passed through as they are (``UNSAFE``):

- C0 controls U+0000–001F (ESC starts terminal escape sequences; CR/LF split mail headers), DEL, and
  C1 controls U+0080–009F (U+009B is a one-byte CSI on some terminals);
- the bidi controls U+061C, U+200E/F, U+202A–202E, U+2066–2069 (they reorder what a reader sees:
  ``gro.elpmaxe`` shown as ``example.org``);
- U+2028/2029 (line breaks to JavaScript and some viewers);
- lone surrogates U+D800–DFFF (no UTF-8 encoding: printing or storing them raises) and the
  non-characters U+FFFE/FFFF (forbidden in XML).

Pure: strings in, strings out.
"""

from __future__ import annotations

import html as _html
import json
import re
from typing import Any

_C0 = "\x00-\x1f"
_C1 = "\x7f-\x9f"  # DEL and C1
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SEPARATORS = "\u2028\u2029"
_SURROGATES = "\ud800-\udfff"
_NONCHARS = "\ufffe\uffff"

UNSAFE = re.compile(f"[{_C0}{_C1}{BIDI}{_SEPARATORS}{_SURROGATES}{_NONCHARS}]")
# What may still appear in serialised JSON text after json.dumps(ensure_ascii=False) (C0 is escaped by it).
_JSON_UNSAFE = re.compile(f"[{_C1}{BIDI}{_SEPARATORS}{_SURROGATES}{_NONCHARS}]")
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f{_C1}{BIDI}{_SEPARATORS}{_SURROGATES}{_NONCHARS}]")
_BIDI = re.compile(f"[{BIDI}]")
_SPACE = re.compile(r"\s+")
_FORMULA = ("=", "+", "-", "@")


def _visible(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def terminal(text: str, limit: int = 300) -> str:
    """One line for a terminal: LF becomes a space, CR ``\\r``, every other unsafe character a visible
    ``\\xNN`` (tab is kept); at most ``limit`` characters (``…`` marks a cut)."""
    out = _TERMINAL_UNSAFE.sub(_visible, text[: limit * 8].replace("\r", "\\r").replace("\n", " "))
    return _cap(out, limit)


def inert(text: str) -> str:
    """Text safe to ``cat`` and to put in XML or a CSV cell: every unsafe character (tab, CR and LF
    too) becomes a visible ``\\xNN``; nothing is cut."""
    return UNSAFE.sub(_visible, text)


def csv_cell(text: str) -> str:
    """An inert CSV cell; a leading ``= + - @`` gets a ``'`` so spreadsheets do not run it as a formula."""
    out = inert(text)
    return "'" + out if out.startswith(_FORMULA) else out


def header(text: str, limit: int = 200) -> str:
    """A mail header value: no CR, LF or any other unsafe character (each becomes a space), trimmed,
    at most ``limit`` characters."""
    return UNSAFE.sub(" ", text[: limit * 8]).strip()[:limit]


def mail_line(text: str, limit: int = 500) -> str:
    """One line of a plain-text mail body: CR/LF become spaces, every other unsafe character ``?``
    (tab is kept); at most ``limit`` characters."""
    out = text[: limit * 8].replace("\r", " ").replace("\n", " ")
    return UNSAFE.sub(lambda m: "\t" if m.group() == "\t" else "?", out)[:limit]


def plain(text: str, limit: int) -> str:
    """Text kept from a hostile source (page titles, RDAP names, header values): controls and line
    separators become spaces, bidi controls are dropped, lone surrogates become U+FFFD, whitespace
    is collapsed, at most ``limit`` characters."""
    out = _BIDI.sub("", text[: limit * 2])
    out = UNSAFE.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else " ", out)
    return _SPACE.sub(" ", out).strip()[:limit]


def html(text: str) -> str:
    """Text for an HTML element or a quoted attribute value: ``& < > " '`` escaped, every unsafe
    character as a numeric reference (a lone surrogate as U+FFFD, which is all HTML allows)."""
    def ref(match: re.Match[str]) -> str:
        code = ord(match.group())
        return "&#xfffd;" if 0xD800 <= code <= 0xDFFF else f"&#x{code:x};"

    return UNSAFE.sub(ref, _html.escape(text, quote=True))


def json_escape(serialised: str) -> str:
    """Serialised JSON with every unsafe character still in it written as ``\\uXXXX``. Outside strings
    JSON is ASCII, so only string contents change, and they decode to the same value."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", serialised)


def json_dumps(value: Any, *, indent: int | None = 2, **kwargs: Any) -> str:
    """``json.dumps`` (non-ASCII text kept readable) with every unsafe character escaped as ``\\uXXXX``."""
    return json_escape(json.dumps(value, indent=indent, ensure_ascii=False, **kwargs))
