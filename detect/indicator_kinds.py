"""The registry of indicator kinds: every ``Indicator.kind`` the fingerprinters may emit.

Scoring weighs a shared value by its tier (Information Laundromat ranks indicators in tiers):
``unique`` values are chosen by an operator (an analytics id, a verification token, a theme folder),
``infrastructure`` values are rented (an IP, a name server, a registrar) and shared by strangers,
``structure`` values describe how a page is built (DOM hash, header order, script sources) and match
whole families of unrelated sites built on the same software. An unknown kind is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from detect.errors import HydrawatchError
from detect.model import Indicator

Tier = Literal["unique", "infrastructure", "structure"]


class UnknownIndicatorKind(KeyError, HydrawatchError):
    """An indicator kind not in INDICATOR_KINDS (registries reject unknown names)."""


@dataclass(frozen=True)
class IndicatorKind:
    name: str
    tier: Tier
    description: str


def _kinds(*rows: tuple[str, Tier, str]) -> Mapping[str, IndicatorKind]:
    return MappingProxyType({name: IndicatorKind(name, tier, text) for name, tier, text in rows})


INDICATOR_KINDS: Mapping[str, IndicatorKind] = _kinds(
    # --- chosen by the operator: strong when shared ---
    ("ga", "unique", "Google Analytics property id: UA-NNNN-N or GA4 G-XXXXXXXX"),
    ("gtm", "unique", "Google Tag Manager container id GTM-XXXX"),
    ("google_ads", "unique", "Google Ads conversion id AW-NNNN"),
    ("adsense", "unique", "AdSense publisher id pub-NNNNNNNNNNNNNNNN (ca- prefix dropped)"),
    ("yandex_metrica", "unique", "Yandex Metrica counter id (ym(N, 'init'), mc.yandex.ru/watch/N)"),
    ("facebook_pixel", "unique", "Facebook/Meta pixel id from fbq('init', N) or facebook.com/tr?id=N"),
    ("hotjar", "unique", "Hotjar site id (hjid)"),
    ("clarity", "unique", "Microsoft Clarity project id"),
    ("matomo", "unique", "Matomo/Piwik tracker as host#siteid (host empty when not found)"),
    ("liveinternet", "unique", "LiveInternet counter account name (counter.yadro.ru/hit;NAME)"),
    ("mailru_top", "unique", "Mail.ru Top counter id (_tmr id, top-fwz1.mail.ru/counter?id=N)"),
    ("site_verification", "unique", "site-verification meta tag as name:token (google, yandex, bing …)"),
    ("wp_theme", "unique", "WordPress theme folder /wp-content/themes/<name>/ (stock themes ignored)"),
    ("social", "unique", "social profile linked from the page: t.me/x, x.com/x, vk.com/x, youtube.com/@x …"),
    ("favicon_mmh3", "unique", "Shodan-compatible mmh3 hash of the favicon bytes"),
    ("push_service", "unique", "web-push service account script (webpushs.com/js/push/<id>)"),
    ("title", "unique", "page title, normalised (NFKC, whitespace collapsed, lower case)"),
    ("canonical_host", "unique", "host named by <link rel=canonical> or og:url"),
    ("cert_san", "unique", "a name in the TLS certificate's subjectAltName"),
    ("cert_sha256", "unique", "SHA-256 of the leaf TLS certificate"),
    # --- rented infrastructure: weigh by rarity ---
    ("ip", "infrastructure", "an A or AAAA address"),
    ("ip_prefix", "infrastructure", "the /24 (IPv4) or /48 (IPv6) network of an address"),
    ("ns", "infrastructure", "a name-server host"),
    ("ns_domain", "infrastructure", "registrable domain of a name-server host"),
    ("mx", "infrastructure", "a mail-exchanger host"),
    ("mx_domain", "infrastructure", "registrable domain of a mail-exchanger host"),
    ("spf_include", "infrastructure", "an include: domain of the SPF TXT record"),
    ("registrar", "infrastructure", "registrar name from RDAP"),
    ("rdap_ns", "infrastructure", "a name server listed by the registry (RDAP), may differ from DNS"),
    ("cert_issuer", "infrastructure", "issuer of the TLS certificate"),
    ("server", "infrastructure", "the Server response header"),
    # --- how the page is built: shared by every site on the same stack ---
    ("dom_hash", "structure", "hash of the page's tag-name sequence (Lookyloo/AIL style)"),
    ("hhhash", "structure", "HHHash: hash of the ordered response-header names (same client only)"),
    ("cookie", "structure", "name of a cookie set by the response"),
    ("script_src", "structure", "script source: host/path for third parties, self/path for the site's own"),
    ("generator", "structure", "<meta name=generator> (CMS and version)"),
    ("og_locale", "structure", "og:locale as declared (a ru_RU locale on English pages is a tell)"),
    ("placeholder", "structure", "the page is a stock page, not a site: challenge, server-default, coming-soon, empty"),
)


def indicator(kind: str, value: str) -> Indicator:
    """Build an Indicator, refusing a kind the registry does not know."""
    if kind not in INDICATOR_KINDS:
        raise UnknownIndicatorKind(kind)
    return Indicator(kind, value)


def tidy(indicators: Iterable[Indicator]) -> tuple[Indicator, ...]:
    """De-duplicate and sort (kind, value); drop empty values; reject unknown kinds."""
    seen: set[Indicator] = set()
    for ind in indicators:
        if ind.kind not in INDICATOR_KINDS:
            raise UnknownIndicatorKind(ind.kind)
        if ind.value:
            seen.add(ind)
    return tuple(sorted(seen, key=lambda i: (i.kind, i.value)))


MAX_PER_KIND = 500        # values of one kind an observation may carry (an 840 kB page held 70,003 ids)
MAX_PER_OBSERVATION = 5_000  # values of all kinds together


def bounded(indicators: Iterable[Indicator], per_kind: int = MAX_PER_KIND,
            total: int = MAX_PER_OBSERVATION) -> tuple[tuple[Indicator, ...], int]:
    """At most ``per_kind`` values of each kind and ``total`` in all, in input order; and how many were
    dropped. A site chooses how many ids its page shows, not how big the store grows."""
    kept: list[Indicator] = []
    per: dict[str, int] = {}
    dropped = 0
    for ind in indicators:
        if per.get(ind.kind, 0) >= per_kind or len(kept) >= total:
            dropped += 1
            continue
        per[ind.kind] = per.get(ind.kind, 0) + 1
        kept.append(ind)
    return tuple(kept), dropped
