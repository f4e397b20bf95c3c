"""Turn hostile page bytes into a bounded, flat summary (title, visible text, tags, links, metas).

lxml's recovering HTML parser does the work. Everything is capped so a page costs bounded time:
only the first MAX_PARSE_BYTES are parsed, libxml2 refuses nesting deeper than 256 (``huge_tree``
stays off), and the walk stops after MAX_ELEMENTS elements. The walk is iterative (no recursion).
"""

from __future__ import annotations

import codecs
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from lxml import etree  # type: ignore[import-untyped]

from detect import textsafe

log = logging.getLogger(__name__)

MAX_PARSE_BYTES = 2_000_000
MAX_ELEMENTS = 100_000
MAX_TEXT_CHARS = 1_000_000
MAX_CODE_CHARS = 2_000_000
MAX_SCRIPT_CHARS = 50_000
MAX_LINKS = 5_000
MAX_IMAGES = 50

_SKIP_TEXT = frozenset({"script", "style", "noscript", "template", "head", "title", "svg"})
_CHARSET_HEADER = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE)
_CHARSET_META = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE)
_LINK_ATTRS = {"a": "href", "link": "href", "script": "src", "iframe": "src", "form": "action", "area": "href"}
_SKIP_CODE_ATTRS = frozenset({"alt", "title", "aria-label", "placeholder", "style"})
# What the skeleton drops from class values: ASCII digits and every character regular expressions call
# whitespace (\s on str), as a str.translate table (a C loop, where re.sub cost a call per element).
_SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
           "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_DROP_FROM_CLASS = str.maketrans("", "", "0123456789" + _SPACES)
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\"\s>]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    tag: str  # a, link, script, iframe, form, area, meta (refresh)
    url: str  # as written in the page (may be relative)
    rel: str = ""
    in_quote: bool = False  # inside <blockquote>: an embedded post, not the site's own link


@dataclass(frozen=True)
class ParsedPage:
    title: str = ""
    text: str = ""  # visible text, whitespace collapsed
    tags: tuple[str, ...] = ()  # tag names in document order
    skeleton: str = ""  # markup without text: tag, attribute names, class values, digits dropped
    code: str = ""  # inline scripts and attribute values: where tracking ids live
    metas: tuple[tuple[str, str], ...] = ()  # (name or property, lower case; content)
    links: tuple[Link, ...] = ()
    html_lang: str = ""
    base_href: str = ""
    image_alts: tuple[str, ...] = ()  # alt text of <img> (an image-only banner says what it is here)
    image_srcs: tuple[str, ...] = ()  # src of <img> as written (which picture an image-only page shows)


# Control characters (terminal escapes, CR/LF) and bidi controls removed, whitespace collapsed, capped.
clean_text = textsafe.plain


def decode(body: bytes, content_type: str = "") -> str:
    """Decode at most MAX_PARSE_BYTES: charset from the header, else a <meta> in the first 4 KiB,
    else UTF-8; undecodable bytes become U+FFFD (never an error)."""
    head = body[:MAX_PARSE_BYTES]
    found = _CHARSET_HEADER.search(content_type or "")
    name = found.group(1) if found else ""
    if not name:
        meta = _CHARSET_META.search(head[:4096])
        name = meta.group(1).decode("ascii", "replace") if meta else ""
    if head.startswith(codecs.BOM_UTF8):
        name, head = "utf-8", head[3:]
    try:
        codec = codecs.lookup(name).name if name else "utf-8"
    except LookupError:
        codec = "utf-8"
    if codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be") and b"\x00" not in head[:200]:
        codec = "utf-8"  # a page lying about UTF-16 in an ASCII-compatible <meta> is not UTF-16
    try:
        return head.decode(codec, errors="replace")
    except Exception:  # noqa: BLE001 - a codec that fails on its own input: fall back, never raise
        return head.decode("utf-8", errors="replace")


# The pages parsed last, by (body, content type): one observe parses a home page in the crawler (the
# banner check), then in its fingerprint, then in classification; the same bytes give the same (frozen)
# ParsedPage, so the later calls take it from here. Bounded by count and by the bodies' bytes.
MEMO_PAGES = 64
MEMO_BYTES = 16_000_000
_memo: OrderedDict[tuple[bytes, str], ParsedPage] = OrderedDict()
_memo_bytes = 0
_memo_lock = threading.Lock()


def parse(body: bytes, content_type: str = "") -> ParsedPage:
    """Parse page bytes into a ParsedPage; an unparseable page gives an empty one. Remembers the last
    pages parsed (MEMO_PAGES, MEMO_BYTES): asking again for the same bytes costs a dictionary look-up."""
    global _memo_bytes
    key = (bytes(body), content_type)
    with _memo_lock:
        if (page := _memo.get(key)) is not None:
            _memo.move_to_end(key)
            return page
    page = _parse(key[0], content_type)
    size = len(key[0])
    if size <= MEMO_BYTES // 4:
        with _memo_lock:
            if key not in _memo:
                _memo[key] = page
                _memo_bytes += size
            while _memo and (len(_memo) > MEMO_PAGES or _memo_bytes > MEMO_BYTES):
                (old, _ct), _page = _memo.popitem(last=False)
                _memo_bytes -= len(old)
    return page


def _parse(body: bytes, content_type: str) -> ParsedPage:
    text = decode(body, content_type).replace("\x00", "")
    if not text.strip():
        return ParsedPage()
    parser = etree.HTMLParser(encoding="utf-8", recover=True, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8", "replace"), parser)
    except (etree.LxmlError, ValueError) as exc:
        log.debug("unparseable page: %s", exc)
        return ParsedPage()
    if root is None:
        return ParsedPage()
    return _walk(root)


def _walk(root: etree._Element) -> ParsedPage:
    title = ""
    texts: list[str] = []
    text_len = 0
    tags: list[str] = []
    skeleton: list[str] = []
    code: list[str] = []
    code_len = 0
    metas: list[tuple[str, str]] = []
    links: list[Link] = []
    html_lang = ""
    base_href = ""
    image_alts: list[str] = []
    image_srcs: list[str] = []
    skip_depth = 0
    quote_depth = 0
    count = 0
    skip_text = _SKIP_TEXT
    skip_code_attrs = _SKIP_CODE_ATTRS
    link_attrs = _LINK_ATTRS
    drop = _DROP_FROM_CLASS
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag
        tag = tag.lower() if isinstance(tag, str) else ""
        if event == "end":
            if tag in skip_text:
                skip_depth -= 1
            elif tag == "blockquote":
                quote_depth -= 1
            tail = el.tail
            if tail and skip_depth == 0 and text_len < MAX_TEXT_CHARS:
                texts.append(tail)
                text_len += len(tail)
            continue
        count += 1
        if count > MAX_ELEMENTS:
            break
        if not tag:  # comment or processing instruction: no text of its own; its tail comes at "end"
            continue
        tags.append(tag)
        items = el.items()  # (name, value) in document order; lxml keeps the first of a repeated name
        if items:
            attrs = dict(items)
            if len(attrs) != len(items):  # a repeated name: the first one counts, as attrib.get answers
                attrs = dict(reversed(items))
            names = sorted([name for name, _value in items])[:20]
            klass = attrs.get("class", "")
            skeleton.append(f"<{tag} {' '.join(names)} {klass.translate(drop)[:200] if klass else ''}>")
        else:
            attrs = {}
            skeleton.append(f"<{tag}  >")
        if tag in skip_text:
            skip_depth += 1
        elif tag == "blockquote":
            quote_depth += 1
        if tag == "title" and not title:
            title = el.text or ""
        elif tag == "html" and not html_lang:
            html_lang = attrs.get("lang", "") or attrs.get("xml:lang", "")
        elif tag == "base" and not base_href:
            base_href = attrs.get("href", "")
        elif tag == "img":
            if len(image_alts) < MAX_IMAGES and (alt := attrs.get("alt", "").strip()):
                image_alts.append(clean_text(alt, 500))
            if len(image_srcs) < MAX_IMAGES and (src := attrs.get("src", "").strip()):
                image_srcs.append(src[:2000])
        elif tag == "meta":
            key = (attrs.get("name") or attrs.get("property") or attrs.get("http-equiv") or "").strip().lower()
            content = attrs.get("content", "")
            if key and len(metas) < 500:
                metas.append((key[:100], content[:1000]))
            if key == "refresh" and (m := _REFRESH_URL.search(content)):
                links.append(Link("meta", m.group(1)))
        text = el.text
        if tag in ("script", "noscript") and text and code_len < MAX_CODE_CHARS:
            code.append(text[:MAX_SCRIPT_CHARS])
            code_len += min(len(text), MAX_SCRIPT_CHARS)
        elif skip_depth == 0 and text and text_len < MAX_TEXT_CHARS:
            texts.append(text)
            text_len += len(text)
        if items and code_len < MAX_CODE_CHARS:
            for name, value in items:
                if value and name not in skip_code_attrs:
                    code.append(value[:4000])
                    code_len += min(len(value), 4000)
        link_attr = link_attrs.get(tag)
        if link_attr and len(links) < MAX_LINKS and (url := attrs.get(link_attr, "").strip()):
            links.append(Link(tag, url[:2000], attrs.get("rel", "").lower()[:100], quote_depth > 0))
    return ParsedPage(
        title=clean_text(title, 500),
        text=clean_text(" ".join(texts), MAX_TEXT_CHARS),
        tags=tuple(tags),
        skeleton="".join(skeleton),
        code="\n".join(code),
        metas=tuple(metas),
        links=tuple(links),
        html_lang=clean_text(html_lang, 40),
        base_href=base_href.strip()[:2000],
        image_alts=tuple(image_alts),
        image_srcs=tuple(image_srcs),
    )

