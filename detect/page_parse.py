"""Turn hostile page bytes into a bounded, flat summary (title, visible text, tags, links, metas).

lxml's recovering HTML parser does the work. Everything is capped so a page costs bounded time:
only the first MAX_PARSE_BYTES are parsed, libxml2 refuses nesting deeper than 256 (``huge_tree``
stays off), and the walk stops after MAX_ELEMENTS elements. The walk is iterative (no recursion).
"""

from __future__ import annotations

import codecs
import logging
import re
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


def parse(body: bytes, content_type: str = "") -> ParsedPage:
    """Parse page bytes into a ParsedPage; an unparseable page gives an empty one."""
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
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower()
        if event == "end":
            if tag in _SKIP_TEXT:
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
        attrs = el.attrib
        skeleton.append(_skeleton_of(tag, attrs))
        if tag in _SKIP_TEXT:
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
        if tag in ("script", "noscript") and el.text and code_len < MAX_CODE_CHARS:
            code.append(el.text[:MAX_SCRIPT_CHARS])
            code_len += min(len(el.text), MAX_SCRIPT_CHARS)
        elif skip_depth == 0 and el.text and text_len < MAX_TEXT_CHARS:
            texts.append(el.text)
            text_len += len(el.text)
        if code_len < MAX_CODE_CHARS:
            for name, value in attrs.items():
                if name not in _SKIP_CODE_ATTRS and value:
                    code.append(value[:4000])
                    code_len += min(len(value), 4000)
        link_attr = _LINK_ATTRS.get(tag)
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


_DIGITS = re.compile(r"[0-9\s]+")


def _skeleton_of(tag: str, attrs: etree._Attrib) -> str:
    names = sorted(str(k) for k in attrs)[:20]
    classes = _DIGITS.sub("", attrs.get("class", ""))[:200]
    return f"<{tag} {' '.join(names)} {classes}>"
