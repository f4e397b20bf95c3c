"""Pure helpers for the non-lookalike candidate generators: CT keywords and results, outlinks, redirects.

The crawler fetches (CT search answers, pages, redirect chains); these functions turn what it saw into
:class:`~detect.model.Candidate` values. They stream, de-duplicate within one call, and silently drop
garbage (anything that has no registrable domain): hostile pages and CT answers are full of it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from functools import lru_cache

from detect.model import Candidate
from detect.names import InvalidDomain, host_of, registrable_domain, split

MIN_KEYWORD = 4
"""CT keywords shorter than this match far too many certificates (``rrn``, ``faz``, ``geo``)."""

GENERIC_WORDS: frozenset[str] = frozenset({
    # English words that name news sites everywhere; as a CT keyword each matches millions of names.
    "news", "info", "the", "daily", "post", "times", "today", "online", "world", "media", "press", "web",
    "site", "blog", "live", "home", "mail", "journal", "magazine", "herald", "tribune", "report", "watch",
    "truth", "free", "real", "true", "global", "best", "shop", "store", "group", "club", "radio", "new",
    "channel", "network", "review", "insider", "official", "portal", "center", "centre", "voice", "wire",
    "courier", "chronicle", "observer", "digest", "pulse", "echo", "signal", "forum", "nation", "front", "week",
    "express", "standard", "mirror", "monitor", "bulletin", "dispatch", "ledger", "sentinel", "story", "stories",
    "now", "hub", "euro", "first", "gazette",
    # the same in the languages of the networks we track
    "zeitung", "nachrichten", "aktuell", "presse", "actu", "monde", "infos", "notizie", "wiadomosci",
    "novosti", "noticias", "gazeta",
})
"""Parts that never make a CT keyword on their own (a whole label equal to one is skipped too)."""

COMMON_PLATFORMS: frozenset[str] = frozenset({
    # Sites every page links to (sharing buttons, fonts, analytics, CDNs): never a clone, never worth a probe.
    "facebook.com", "twitter.com", "x.com", "t.me", "telegram.org", "instagram.com", "youtube.com",
    "youtu.be", "tiktok.com", "vk.com", "ok.ru", "linkedin.com", "pinterest.com", "reddit.com", "whatsapp.com",
    "google.com", "googleapis.com", "gstatic.com", "googletagmanager.com", "google-analytics.com",
    "doubleclick.net", "yandex.ru", "cloudflare.com", "jsdelivr.net", "wordpress.org", "wordpress.com",
    "w.org", "gravatar.com", "wp.com", "apple.com", "microsoft.com", "archive.org", "wikipedia.org",
})
"""The default ``ignore`` set of outlink_candidates()."""

_DIGIT_EDGES = re.compile(r"^[0-9]+|[0-9]+$")


def _keyword_ok(word: str) -> bool:
    return len(word) >= MIN_KEYWORD and word not in GENERIC_WORDS and not word.isdigit()


_GENERIC_LONGEST_FIRST: tuple[str, ...] = tuple(sorted(GENERIC_WORDS, key=lambda w: (-len(w), w)))
"""GENERIC_WORDS in the order :func:`_brand_core` tries them: longest first, then alphabetical (a fixed
order: a set's own order changes with the process's hash seed)."""


def _brand_core(word: str) -> str:
    """The word with generic news words peeled off both ends (``dadristruth`` → ``dadris``,
    ``thelensvoice`` → ``lens``): the part an operator keeps when it renames a site."""
    return _peel(word)[0]


def _peel(word: str) -> tuple[str, list[str]]:
    """(:func:`_brand_core` of ``word``, the generic words peeled off on the way)."""
    peeled: list[str] = []
    changed = True
    while changed:
        changed = False
        for generic in _GENERIC_LONGEST_FIRST:
            if word.startswith(generic) and len(word) - len(generic) >= MIN_KEYWORD:
                word, changed = word[len(generic):], True
                peeled.append(generic)
            elif word.endswith(generic) and len(word) - len(generic) >= MIN_KEYWORD:
                word, changed = word[: -len(generic)], True
                peeled.append(generic)
    return word, peeled


def label_keywords(label: str) -> list[str]:
    """Keywords for one registrable label: the label with leading/trailing digits dropped
    (``50statesoflie`` → ``statesoflie``), for hyphenated labels each distinctive part
    (``70-putin-freunde`` → ``70-putin-freunde``, ``putin``, ``freunde``), and for each of those its
    brand core with generic news words peeled off (``dadristruth`` → ``dadris``). Short and generic
    words are skipped.
    """
    return list(_label_keywords(label))


@lru_cache(maxsize=1 << 16)
def _label_keywords(label: str) -> tuple[str, ...]:
    """:func:`label_keywords`, remembered: scoring asks it for every network label once per candidate."""
    out: list[str] = []
    whole = _DIGIT_EDGES.sub("", label).strip("-")
    words = [whole] + ([_DIGIT_EDGES.sub("", part) for part in label.split("-")] if "-" in label else [])
    for word in words:
        for keyword in (word, _brand_core(word) if "-" not in word else word):
            if _keyword_ok(keyword) and keyword not in out:
                out.append(keyword)
    return tuple(out)


def ct_keywords(network_domains: Iterable[str]) -> tuple[str, ...]:
    """Keywords for certificate-transparency search, drawn from the network's labels (sorted, unique).

    The rule: take each domain's registrable label (``washingtonpost`` of ``washingtonpost.pm``); keep it
    and, for hyphenated labels, each part; drop leading/trailing digits; skip anything under MIN_KEYWORD
    characters or in GENERIC_WORDS. Finally drop every keyword that contains another one: a CT ``LIKE
    %spiegel%`` search already returns ``tagesspiegel`` and ``spiegell``, so one query does for all.
    Invalid domains are skipped.
    """
    found: set[str] = set()
    for domain in network_domains:
        try:
            label = split(registrable_domain(domain)).label
        except InvalidDomain:
            continue
        found.update(label_keywords(label))
    ordered = sorted(found, key=lambda w: (len(w), w))
    kept: list[str] = []
    for word in ordered:
        if not any(shorter in word for shorter in kept):
            kept.append(word)
    return tuple(sorted(kept))


def ct_generic_keywords(network_domains: Iterable[str], min_length: int) -> tuple[str, ...]:
    """The generic news words (GENERIC_WORDS) the network's names are built from, for a CT search limited
    to recent certificates (sorted, unique): each hyphenated part that is one (``sentinel`` of
    ``vox-sentinel``) and each one peeled off a label's ends (``gazette`` of ``ledgergazette``).

    :func:`ct_keywords` skips these: ``%sentinel%`` over all time matches millions of names. Over the
    certificates of the last days it is a bounded list, and an operator who names a replacement after the
    generic half of a seized name (``sentinel-hub`` for ``vox-sentinel``) is found there. The name is no
    evidence on its own — a generic word ties nobody to the network —, so such a candidate is a clone only
    on what its pages and infrastructure share. Words shorter than ``min_length`` are skipped: a short
    ``%post%`` is a substring of far too many unrelated words (``compost``).
    """
    found: set[str] = set()
    for domain in network_domains:
        try:
            label = split(registrable_domain(domain)).label
        except InvalidDomain:
            continue
        for part in [_DIGIT_EDGES.sub("", p) for p in label.split("-")]:
            for word in _generic_edges(part):
                if len(word) >= max(min_length, MIN_KEYWORD):
                    found.add(word)
    return tuple(sorted(found))


def _generic_edges(word: str) -> list[str]:
    """The generic words in ``word``: itself when it is one, else those :func:`_brand_core` peels off its
    ends and what is left when that is one too (``insiderreport`` → ``insider``, ``report``)."""
    if word in GENERIC_WORDS:
        return [word]
    core, peeled = _peel(word)
    return peeled + ([core] if core in GENERIC_WORDS else [])


def ct_candidates(names: Iterable[str], keyword: str, seed: str = "") -> Iterator[Candidate]:
    """Candidates from the names of a CT search answer for ``keyword`` (source "ct", via the keyword).

    An entry may hold several names separated by newlines (crt.sh ``name_value``); wildcards (``*.``) are
    stripped, each name reduced to its registrable domain, garbage dropped, duplicates skipped.
    """
    seen: set[str] = set()
    for entry in names:
        for raw in str(entry).splitlines():
            domain = host_of(raw.strip().lstrip("*.").strip())
            if domain is not None and domain not in seen:
                seen.add(domain)
                yield Candidate(domain=domain, source="ct", via=keyword, seed=seed)


def _links(source: str, site_domain: str, urls: Iterable[str], known_domains: Collection[str],
           legit: Collection[str], ignore: Collection[str]) -> Iterator[Candidate]:
    site = host_of(site_domain) or site_domain
    skip = {site}
    for outlet in legit:
        skip.add(host_of(outlet) or outlet)
    for url in urls:
        domain = host_of(url)
        if domain is None or domain in skip or domain in known_domains or domain in ignore:
            continue
        skip.add(domain)
        yield Candidate(domain=domain, source=source, via=site, seed=site)


def outlink_candidates(site_domain: str, outlinks: Iterable[str], known_domains: Collection[str],
                       legit: Collection[str], ignore: Collection[str] = COMMON_PLATFORMS) -> Iterator[Candidate]:
    """New registrable domains a network site links to (source "outlink", via and seed = the site).

    Skipped: the site itself, domains already known (``known_domains``: the store's), the legitimate outlets
    clones link back to (``legit``, ``[brands] legitimate``), and ``ignore`` (big platforms).
    """
    return _links("outlink", site_domain, outlinks, known_domains, legit, ignore)


def redirect_candidates(site_domain: str, final_url_host: str, known_domains: Collection[str],
                        legit: Collection[str], hops: Iterable[str] = ()) -> Iterator[Candidate]:
    """New registrable domains a network site redirects to (source "redirect", via and seed = the site).

    ``final_url_host`` is where the chain ended (URL or host); ``hops`` the URLs of the intermediate hops,
    which are candidates too (a traffic-distribution domain in between is the operator's). Same skips as
    outlink_candidates() except the platform list: a redirect to a platform is still worth recording.
    """
    return _links("redirect", site_domain, [*hops, final_url_host], known_domains, legit, ())
