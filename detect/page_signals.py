"""What a fetched page says about a takedown: seizure banner, block notice, for-sale page, a
registrar's or host's suspension notice, the fingerprint of a short page (to recognise a takedown
page already seen on a seized domain), and client-side redirects (meta refresh, JavaScript location).

Phrases count only where a takedown page puts them: in the title or near the top of a SHORT page.
Seizure and parking pages are short; news pages are long and may quote "was seized by the FBI".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from detect.page_parse import ParsedPage
from detect.signatures import Phrase, ProviderPhrase, Signatures

SHORT_PAGE_CHARS = 3_000  # a takedown or parking page has less visible text than this
TOP_CHARS = 1_000  # phrases count when they appear this close to the start of the text
IMAGE_BANNER_CHARS = 300  # "almost no text": the banner is an image
_JS_LOCATION = re.compile(
    r"(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*=\s*['\"]([^'\"]{4,500})['\"]"
    r"|location\.(?:replace|assign)\(\s*['\"]([^'\"]{4,500})['\"]"
)
_REFRESH_DELAY = re.compile(r"^\s*(\d{1,5})")
# Stock pages every web server shows (defaults, errors, directory listings, placeholders): never a
# fingerprint, or every fresh nginx would "serve the takedown page" of a seizure that showed one.
STOCK_PAGE_WORDS = ("welcome to nginx", "default page", "test page", "it works", "index of /", "not found",
                    "forbidden", "bad gateway", "service unavailable", "internal server error", "coming soon",
                    "under construction", "iis windows server", "site not found", "no site configured")


# What a page shows instead of a site of its own: a bot challenge in front of it, a web server's or a
# hosting panel's default page, a placeholder before launch. Millions of unrelated domains show these
# pages word for word, so a candidate showing one serves nothing that ties it to anyone
# (public knowledge of the stock pages of Cloudflare, nginx, Apache, IIS, cPanel, Plesk and site builders).
PLACEHOLDER_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("challenge", ("just a moment", "checking your browser", "attention required", "verify you are human",
                   "checking if the site connection is secure", "ddos protection by",
                   "enable javascript and cookies to continue", "please wait while we verify", "bot verification", "security check")),
    ("server-default", ("welcome to nginx", "apache2 ubuntu default page", "apache2 debian default page",
                        "it works!", "test page for the", "iis windows server", "default web site page",
                        "web server's default page", "no site configured", "site not found", "index of /",
                        "future home of something quite cool", "default page")),
    ("coming-soon", ("coming soon", "under construction", "launching soon", "site en construction",
                     "bientôt disponible", "demnächst", "in arbeit", "in costruzione", "próximamente",
                     "en construcción", "wkrótce", "скоро открытие", "сайт в разработке", "em breve",
                     "binnenkort", "maintenance mode", "we'll be back soon")),
)
PLACEHOLDER_TEXT_CHARS = 600  # a placeholder has hardly any text of its own


def placeholder(page: ParsedPage) -> str:
    """"challenge", "server-default" or "coming-soon" for a short page that is one of those stock
    pages (title or top of the text), "empty" for an HTML page with no visible text, else ""."""
    text = page.text.strip()
    if len(text) > PLACEHOLDER_TEXT_CHARS:
        return ""
    head = f"{page.title} {text}".lower()
    for kind, words in PLACEHOLDER_WORDS:
        if any(word in head for word in words):
            return kind
    if not text and not page.image_srcs and page.tags:
        return "empty"
    return ""


@dataclass(frozen=True)
class BannerMatch:
    phrase: Phrase
    where: str  # "title", "text" or "image alt text"


def _where(phrase: str, title: str, top: str, alts: str = "") -> str:
    if phrase in title:
        return "title"
    if phrase in top:
        return "text"
    if phrase in alts:
        return "image alt text"
    return ""


def _alts(page: ParsedPage) -> str:
    """The pictures' alt texts, lower case, one line: where an image-only banner says what it is."""
    return " | ".join(page.image_alts).lower()


def block_notice(page: ParsedPage, sig: Signatures) -> Phrase | None:
    """A non-seizure block notice (e.g. the CUII copyright DNS block) shown instead of the site."""
    title, top = page.title.lower(), page.text[: SHORT_PAGE_CHARS * 2].lower()
    return next((p for p in sig.phrases_of("block_notice") if p.text in title or p.text in top), None)


def seizure_banner(page: ParsedPage, sig: Signatures, corroborated: bool = False) -> BannerMatch | None:
    """A seizure banner: a strong phrase in the title, the top or a picture's alt text of a short page;
    any seizure phrase in the title or alt text of a page with almost no text (the image-only banner);
    with ``corroborated`` (a weak-seizure NS) weak phrases count on a short page too. Weak phrases
    alone never count."""
    if len(page.text) > SHORT_PAGE_CHARS:
        return None
    title, top, alts = page.title.lower(), page.text[:TOP_CHARS].lower(), _alts(page)
    image_only = len(page.text) <= IMAGE_BANNER_CHARS
    phrases = [p for p in sig.phrases if p.kind in ("banner", "keyword")]
    for phrase in sorted(phrases, key=lambda p: (p.strength != "strong", -len(p.text))):
        if phrase.strength == "strong" or corroborated:
            if where := _where(phrase.text, title, top, alts):
                return BannerMatch(phrase, where)
        elif image_only and (where := _where(phrase.text, title, "", alts)):
            return BannerMatch(phrase, where)
    return None


def _provider_page(page: ParsedPage, phrases: tuple[ProviderPhrase, ...]) -> str:
    """The first of ``phrases`` in the title or top of a short page, or ""."""
    if len(page.text) > SHORT_PAGE_CHARS:
        return ""
    title, top = page.title.lower(), page.text[:TOP_CHARS].lower()
    return next((p.text for p in phrases if p.text in title or p.text in top), "")


def for_sale(page: ParsedPage, sig: Signatures) -> str:
    """The parking / for-sale phrase on a short page (title or top), or ""."""
    return _provider_page(page, sig.parking_phrases)


def suspension_notice(page: ParsedPage, sig: Signatures) -> str:
    """A registrar's or host's "this domain / account has been suspended" page (title or top of a
    short page), or ""."""
    return _provider_page(page, sig.suspension_phrases)


def takedown_page_key(page: ParsedPage, domain: str) -> str:
    """A fingerprint of a short page with the domain's own name masked: the one takedown page an agency
    serves for every domain it seized has one key, wherever it is served. "" for a long page, an
    empty one, or a stock server page (STOCK_PAGE_WORDS)."""
    if len(page.text) > SHORT_PAGE_CHARS or not (page.text.strip() or page.image_srcs):
        return ""
    head = f"{page.title} {page.text[:TOP_CHARS]}".lower()
    if any(word in head for word in STOCK_PAGE_WORDS):
        return ""
    parts = (page.title, page.text, "|".join(page.image_alts), "|".join(page.image_srcs), page.skeleton,
             "|".join(link.url for link in page.links))
    text = "\x00".join(parts).lower()
    if domain:
        text = text.replace(domain.lower(), "{domain}")
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def classification_view(page: ParsedPage) -> ParsedPage:
    """What classification (detect.classify, through the signals of this module) reads of ``page``: a short
    page (at most SHORT_PAGE_CHARS of text) whole; of a long page its title, its text (its length and its
    top), its metas and meta-refresh links, and whether it has tags — its markup skeleton, inline code,
    other links and pictures are read on short pages only, so the view leaves them out. classify() decides
    the same on the view as on the page (tests/detect/test_classification_view.py). The crawl's page workers
    hand this view back to the crawl's process for classification: far fewer objects to carry across."""
    if len(page.text) <= SHORT_PAGE_CHARS:
        return page
    return replace(page, tags=page.tags[:1], skeleton="", code="",
                   links=tuple(link for link in page.links if link.tag == "meta"), image_alts=(), image_srcs=())


def banner_picture_key(sha256: str) -> str:
    """The key, beside takedown_page_key's, of a wordless banner's picture (its sha256), or ""."""
    return f"picture:{sha256}" if sha256 else ""


def client_redirect(page: ParsedPage) -> tuple[str, str]:
    """(target URL, how) of a meta refresh (delay ≤ 10 s) or, on a short page, a JavaScript location
    assignment; ("", "") when there is none."""
    for key, content in page.metas:
        if key == "refresh":
            delay = _REFRESH_DELAY.match(content)
            if delay is None or int(delay.group(1)) <= 10:
                for link in page.links:
                    if link.tag == "meta":
                        return link.url, "meta refresh"
    if len(page.text) <= SHORT_PAGE_CHARS // 3:
        m = _JS_LOCATION.search(page.code)
        if m:
            return (m.group(1) or m.group(2)), "JavaScript location"
    return "", ""
