"""Operator-chosen ids in a page: analytics and ad ids, verification tags, theme folder, social
handles, script sources.

Ids are searched in ``ParsedPage.code`` (inline scripts and attribute values), never in the article
text, so a news story quoting "G-…" does not become an id. Script sources skip a boilerplate list
(the Information Laundromat lesson: common libraries match everything and mean nothing).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

from detect.indicator_kinds import indicator
from detect.model import Indicator
from detect.names import host_of
from detect.page_parse import ParsedPage

# (kind, literal, pattern): every pattern is linear (no nested quantifiers) and bounded in length, and
# cannot match where its literal is absent: a substring test (one C scan) spares most pages most patterns.
_ID_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("ga", "UA-", re.compile(r"\b(UA-\d{4,10}-\d{1,4})\b")),
    ("ga", "G-", re.compile(r"\b(G-[A-Z0-9]{8,12})\b")),
    ("gtm", "GTM-", re.compile(r"\b(GTM-[A-Z0-9]{4,9})\b")),
    ("google_ads", "AW-", re.compile(r"\b(AW-\d{6,12})\b")),
    ("adsense", "pub-", re.compile(r"\b(?:ca-)?(pub-\d{16})\b")),
    ("yandex_metrica", "ym(", re.compile(r"\bym\(\s*(\d{5,12})\s*,")),
    ("yandex_metrica", "mc.yandex.", re.compile(r"mc\.yandex\.(?:ru|com)/watch/(\d{5,12})")),
    ("yandex_metrica", "yaCounter", re.compile(r"\byaCounter(\d{5,12})\b")),
    ("facebook_pixel", "fbq(", re.compile(r"fbq\(\s*['\"]init['\"]\s*,\s*['\"]?(\d{10,20})")),
    ("facebook_pixel", "facebook.com/tr?id=", re.compile(r"facebook\.com/tr\?id=(\d{10,20})")),
    ("hotjar", "hjid", re.compile(r"\bhjid\s*:\s*(\d{4,10})")),
    ("clarity", "clarity", re.compile(r"['\"]clarity['\"]\s*,\s*['\"]script['\"]\s*,\s*['\"]([a-z0-9]{6,12})['\"]")),
    ("clarity", "clarity.ms/tag/", re.compile(r"clarity\.ms/tag/([a-z0-9]{6,12})")),
    ("liveinternet", "counter.yadro.ru/hit;", re.compile(r"counter\.yadro\.ru/hit;([A-Za-z0-9_.-]{1,64})")),
    ("mailru_top", "_tmr.push(", re.compile(r"_tmr\.push\(\s*\{\s*id\s*:\s*['\"]?(\d{5,10})")),
    ("mailru_top", "top-fwz1.mail.ru/", re.compile(r"top-fwz1\.mail\.ru/(?:counter|js/code\.js)\?id=(\d{5,10})")),
    ("push_service", "webpushs.com/js/push/", re.compile(r"(webpushs\.com/js/push/[0-9a-f]{16,64})")),
)
_MATOMO_SITE = re.compile(r"setSiteId['\"]?\s*,\s*['\"]?(\d{1,6})")
_MATOMO_URL = re.compile(r"\bu\s*=\s*['\"](?:https?:)?//([A-Za-z0-9.-]{1,253})/")
_VK_POST = re.compile(r"(?:wall|photo|video|album|topic|doc|audio)-?\d")  # a post, not a profile
_WP_THEME = re.compile(r"/wp-content/themes/([A-Za-z0-9_.-]{1,80})/")

VERIFICATION_METAS = frozenset({
    "google-site-verification", "yandex-verification", "msvalidate.01", "facebook-domain-verification",
    "p:domain_verify", "baidu-site-verification", "norton-safeweb-site-verification",
    "ahrefs-site-verification", "wot-verification", "alexaverifyid", "seznam-wmt", "naver-site-verification",
    "pocket-site-verification", "mailru-verification", "apple-domain-verification",
})

# Stock and mass-market themes: a shared one says nothing about the operator.
STOCK_THEMES = frozenset({
    "twentyten", "twentyeleven", "twentytwelve", "twentythirteen", "twentyfourteen", "twentyfifteen",
    "twentysixteen", "twentyseventeen", "twentynineteen", "twentytwenty", "twentytwentyone",
    "twentytwentytwo", "twentytwentythree", "twentytwentyfour", "twentytwentyfive", "astra",
    "hello-elementor", "generatepress", "oceanwp", "divi", "avada", "newspaper", "kadence", "neve",
    "storefront", "sydney", "hestia", "colormag", "jnews", "flatsome", "enfold", "blocksy",
})

# host → path prefixes that are not a handle (share buttons, widgets, search) on social networks.
_SOCIAL_HOSTS = {
    "t.me": "t.me", "telegram.me": "t.me", "x.com": "x.com", "twitter.com": "x.com",
    "facebook.com": "facebook.com", "fb.com": "facebook.com", "vk.com": "vk.com", "ok.ru": "ok.ru",
    "youtube.com": "youtube.com", "instagram.com": "instagram.com", "tiktok.com": "tiktok.com",
    "rumble.com": "rumble.com", "gab.com": "gab.com", "truthsocial.com": "truthsocial.com",
}
_SOCIAL_NOT_HANDLES = frozenset({
    "share", "sharer", "sharer.php", "intent", "hashtag", "widgets", "widgets.js", "home", "i", "search",
    "login", "dialog", "wall", "watch", "embed", "plugins", "tr", "share.php", "s", "joinchat", "iv",
    "explore", "p", "reel", "status", "results", "feed", "policies", "privacy", "about", "help", "legal",
    "tos", "settings", "signup", "web", "addtoany", "permalink.php", "photo.php", "video", "shorts",
    "playlist", "c", "user", "channel", "groups", "events", "pages", "tag", "away.php",
})

# Boilerplate script sources (host or host+path prefixes, or library file names): common to
# millions of sites, so matching them links nothing.
BOILERPLATE_SCRIPT_PREFIXES: tuple[str, ...] = (
    "code.jquery.com/", "ajax.googleapis.com/", "cdnjs.cloudflare.com/", "cdn.jsdelivr.net/", "unpkg.com/",
    "maxcdn.bootstrapcdn.com/", "stackpath.bootstrapcdn.com/", "netdna.bootstrapcdn.com/",
    "ajax.aspnetcdn.com/", "cdn.tailwindcss.com/", "use.fontawesome.com/", "kit.fontawesome.com/",
    "fonts.googleapis.com/", "www.gstatic.com/", "apis.google.com/", "maps.googleapis.com/",
    "www.google.com/recaptcha/", "www.googletagmanager.com/", "www.google-analytics.com/",
    "google-analytics.com/", "ssl.google-analytics.com/", "pagead2.googlesyndication.com/",
    "securepubads.g.doubleclick.net/", "www.googletagservices.com/", "www.googleadservices.com/",
    "googleads.g.doubleclick.net/", "mc.yandex.ru/", "yastatic.net/", "connect.facebook.net/",
    "platform.twitter.com/", "static.ads-twitter.com/", "platform.instagram.com/", "assets.pinterest.com/",
    "telegram.org/js/", "vk.com/js/", "www.youtube.com/iframe_api", "www.youtube.com/player_api",
    "player.vimeo.com/", "static.hotjar.com/", "www.clarity.ms/", "static.cloudflareinsights.com/",
    "ajax.cloudflare.com/", "challenges.cloudflare.com/", "cdn.ampproject.org/", "polyfill.io/",
    "cdn.polyfill.io/", "s.w.org/", "stats.wp.com/", "c0.wp.com/", "s0.wp.com/", "widgets.wp.com/",
    "static.addtoany.com/", "counter.yadro.ru/", "top-fwz1.mail.ru/", "cdn.usefathom.com/",
    "cdn.onesignal.com/", "cdn.cookielaw.org/", "consent.cookiebot.com/", "snap.licdn.com/",
    "analytics.tiktok.com/", "self/wp-includes/", "self/wp-content/plugins/elementor/",
    "self/wp-content/plugins/contact-form-7/", "self/wp-content/plugins/woocommerce/",
    "self/cdn-cgi/",
)
_BOILERPLATE_FILE = re.compile(
    r"/(jquery|bootstrap|modernizr|html5|html5shiv|respond|swiper|owl\.carousel|slick|lazysizes|moment|"
    r"lodash|underscore|popper|font-?awesome|superfish|fancybox|lightbox|imagesloaded|masonry|isotope|"
    r"comment-reply|wp-embed|wp-emoji-release|gtag|analytics)[\w.-]*\.js$",
    re.IGNORECASE,
)


def id_indicators(page: ParsedPage) -> Iterator[Indicator]:
    """Tracking and ad ids found in inline scripts and attribute values."""
    code = page.code
    for kind, literal, pattern in _ID_PATTERNS:
        if literal in code:
            for m in pattern.finditer(code):
                yield indicator(kind, m.group(1))
    sites = set(_MATOMO_SITE.findall(code)) if "setSiteId" in code else set()
    if sites:
        hosts = [h.lower() for h in _MATOMO_URL.findall(page.code)] or [""]
        for site in sites:
            yield indicator("matomo", f"{hosts[0]}#{site}")
    for m in _WP_THEME.finditer(code) if "/wp-content/themes/" in code else ():
        theme = m.group(1).lower()
        if theme not in STOCK_THEMES:
            yield indicator("wp_theme", theme)


def meta_indicators(page: ParsedPage) -> Iterator[Indicator]:
    """Verification tokens, generator and og:locale from <meta>."""
    for key, content in page.metas:
        value = content.strip()
        if not value:
            continue
        if key in VERIFICATION_METAS:
            yield indicator("site_verification", f"{key}:{value[:200]}")
        elif key == "generator":
            yield indicator("generator", value[:200])
        elif key == "og:locale":
            yield indicator("og_locale", value[:40])


def absolute(base: str, url: str) -> str:
    """``url`` resolved against ``base``; "" when it cannot be (hostile URLs never raise)."""
    try:
        return urljoin(base, url.strip())
    except ValueError:
        return ""


# A reference that keeps the base's host: a path from the root ("/x", not "//x"), a query or a fragment,
# in plain ASCII URL characters only (no whitespace or controls, which urlsplit strips: "/\t/evil" is
# "//evil"; no backslash, no non-ASCII), so urljoin keeps the base's scheme and netloc as they are.
_SAME_HOST_REF = re.compile(r"(?:/(?!/)|[?#])[A-Za-z0-9\-._~%!$&'()*+,;=:@/?#]*|/")


@functools.lru_cache(maxsize=8192)
def link_host(base: str, url: str) -> str:
    """Lower-case host of a link, or "" (javascript:, mailto:, garbage).

    Cached: a page asks for most of its links twice (profiles, outlinks) and repeats many of them; URL
    parsing was a fifth of the crawl's fingerprinting time (bench/crawl.py). A link from the root of the
    same site ("/2026/11/story") has the base's host, resolved once per base. Pure, so neither changes an
    answer (tests/detect/test_link_cache.py); 8,192 entries of two strings each, cut from bodies capped
    at max_page_bytes."""
    if _SAME_HOST_REF.fullmatch(url):
        return _base_host(base)
    return resolved_host(base, url)


@functools.lru_cache(maxsize=256)
def _base_host(base: str) -> str:
    return resolved_host(base, "/")


def resolved_host(base: str, url: str) -> str:
    """link_host without cache or shortcut: ``url`` resolved against ``base``, its host if http(s)."""
    full = absolute(base, url)
    if not full.lower().startswith(("http://", "https://", "//")):
        return ""
    try:
        return (urlsplit(full).hostname or "").lower()
    except ValueError:
        return ""


def social_indicators(page: ParsedPage, base: str) -> Iterator[Indicator]:
    """Profiles the site links to (<a href>), not share buttons and not links inside embedded posts."""
    for link in page.links:
        if link.tag != "a" or link.in_quote:
            continue
        host = link_host(base, link.url)
        host = host.removeprefix("www.")
        host = host.removeprefix("m.")
        network = _SOCIAL_HOSTS.get(host)
        if network is None:
            continue
        path = [p for p in urlsplit(absolute(base, link.url)).path.split("/") if p]
        if not path:
            continue
        handle = path[0].lower()
        if network == "youtube.com" and handle in ("c", "channel", "user") and len(path) > 1:
            handle = f"{handle}/{path[1].lower()}"
        elif handle in _SOCIAL_NOT_HANDLES or handle.endswith(".php") or _VK_POST.match(handle):
            continue
        if network == "youtube.com" and "/" not in handle and not handle.startswith("@"):
            continue
        if re.fullmatch(r"[@a-z0-9_./-]{1,100}", handle):
            yield indicator("social", f"{network}/{handle}")


def script_indicators(page: ParsedPage, base: str, own: str | None) -> Iterator[Indicator]:
    """Script sources as host/path (self/path for the site's own), boilerplate skipped."""
    for link in page.links:
        if link.tag != "script":
            continue
        full = absolute(base, link.url)
        try:
            parts = urlsplit(full)
        except ValueError:
            continue
        host = (parts.hostname or "").lower()
        if not host or parts.scheme not in ("http", "https", ""):
            continue
        site = "self" if own is not None and host_of(host) == own else host
        value = f"{site}{parts.path or '/'}"[:300]
        if value.startswith(BOILERPLATE_SCRIPT_PREFIXES) or _BOILERPLATE_FILE.search(parts.path):
            continue
        yield indicator("script_src", value)
