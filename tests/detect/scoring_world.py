"""Builders for small scoring worlds declared inline by the tests: profiles, page text, a store.

Text is made of seeded pseudo-words so that "copied template" and "unrelated site" have realistic
MinHash / TLSH behaviour without any real page.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import tlsh
from datasketch import LeanMinHash, MinHash

from detect.model import Indicator, Status
from detect.names import split
from detect.scoring import Discovery, ScoringPolicy, SiteProfile, StoreStats, Verdict, score_candidate

SEIZURE = datetime(2024, 9, 4, 12, 0, tzinfo=UTC)
NOW = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)
POLICY = ScoringPolicy(threshold=0.6, takedown_window_hours=96, commodity_share=50, legitimate=frozenset())

CLOUDFLARE_IP = "104.21.7.7"  # commodity: shared by many unrelated store domains
CLOUDFLARE_NS = "ada.ns.cloudflare.com"
OPERATOR_IP = "203.0.113.10"  # rare: the operator's own host
OPERATOR_NS = "ns1.quiet-hosting.example"


def words(seed: str, n: int) -> list[str]:
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "pa", "do", "fe", "gu", "hi", "jo", "be"]
    return ["".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(n)]


def page(*parts: str) -> list[str]:
    """A page's words: each part is a seeded block ("wapo-nav", "article-17", …) of 120 words."""
    out: list[str] = []
    for part in parts:
        out += words(part, 120)
    return out


def minhash(text: list[str]) -> bytes:
    m = MinHash(num_perm=128)
    for i in range(len(text) - 2):
        m.update(" ".join(text[i:i + 3]).encode())
    lean = LeanMinHash(m)
    buf = bytearray(lean.bytesize())
    lean.serialize(buf)
    return bytes(buf)


def html_hash(text: list[str]) -> str:
    """TLSH of HTML whose markup (tags, classes) comes from the page's first block: a copied template
    copies the markup too; unrelated sites use other markup."""
    rng = random.Random(text[0])
    tags = [rng.choice(["p", "div", "span", "li", "section", "article", "h3"]) for _ in range(9)]
    classes = words(text[0] + "-css", 9)
    body = "".join(f"<{tags[i % 9]} class='{classes[(i * 5) % 9]}-{i % 4}'>{' '.join(text[i:i + 12])}"
                   f"</{tags[i % 9]}>" for i in range(0, len(text), 12))
    return str(tlsh.hash(f"<html><head><meta charset='utf-8'></head><body>{body}</body></html>".encode()))


def at(day: int, hour: int = 0, month: int = 9, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def site(domain: str, *, status: Status = Status.ACTIVE, since: datetime | None = None,
         network: bool = False, ind: Iterable[tuple[str, str]] = (), text: list[str] | None = None,
         registered: datetime | None = None, registrar: str = "NameCheap, Inc.",
         outlinks: Iterable[str] = (), redirects_to: str | None = None, parked: bool = False) -> SiteProfile:
    return SiteProfile(
        domain=domain, label=split(domain).label, status=status, status_since=since, in_network=network,
        seeded=network,
        indicators=frozenset(Indicator(k, v) for k, v in ind), minhash=minhash(text) if text else None,
        tlsh=html_hash(text) if text else None, registered=registered, registrar=registrar,
        outlinks=frozenset(outlinks), redirects_to=redirects_to, parked=parked, title="")


def stats(*profiles: SiteProfile, background: int = 200) -> StoreStats:
    """Share counts over the given profiles plus ``background`` unrelated store domains, 80 of which
    sit on the commodity Cloudflare address and nameserver."""
    counts: Counter[Indicator] = Counter()
    for p in profiles:
        values = set(p.indicators) | ({Indicator("registrar", p.registrar)} if p.registrar else set())
        counts.update(values)
    counts[Indicator("ip", CLOUDFLARE_IP)] += 80
    counts[Indicator("ns", CLOUDFLARE_NS)] += 80
    counts[Indicator("registrar", "NameCheap, Inc.")] += 120
    counts[Indicator("og_locale", "en_US")] += 150
    return StoreStats(total_domains=len({p.domain for p in profiles}) + background, share_counts=counts)


def found(source: str = "lookalike", via: str = "tld-swap", seed: str = "") -> Discovery:
    return Discovery(source=source, via=via, seed=seed)


OPERATOR_TELLS = (("og_locale", "ru_RU"), ("social", "t.me/rrn_world"))


def doppelganger_network() -> list[SiteProfile]:
    """Three seized spoofs (their last pre-seizure pages), a live spoof and a live brand site."""
    lost: dict[str, Any] = {"status": Status.SEIZED, "since": SEIZURE, "network": True,
                           "registered": at(13, 10, month=7, year=2023)}
    return [
        site("washingtonpost.pm", **lost, text=page("wapo-nav", "wapo-footer", "fake-1", "fake-2"),
             ind=OPERATOR_TELLS + (("wp_theme", "washingtonpost-pm"), ("ip", OPERATOR_IP), ("ns", OPERATOR_NS)),
             outlinks={"washingtonpost.com", "t.me"}),
        site("fox-news.in", **lost, text=page("fox-nav", "fox-footer", "fake-3", "fake-4"),
             ind=OPERATOR_TELLS + (("wp_theme", "foxnews-in"), ("ip", OPERATOR_IP), ("ns", OPERATOR_NS)),
             outlinks={"foxnews.com", "t.me"}),
        site("spiegel.ltd", **lost, text=page("spiegel-nav", "spiegel-footer", "fake-5", "fake-6"),
             ind=OPERATOR_TELLS + (("wp_theme", "spiegel-ltd"), ("ip", OPERATOR_IP)),
             outlinks={"spiegel.de", "t.me"}),
        site("welt.pm", network=True, registered=at(13, 11, month=7, year=2023),
             text=page("welt-nav", "welt-footer", "fake-7", "fake-8"),
             ind=OPERATOR_TELLS + (("wp_theme", "welt-pm"), ("ip", CLOUDFLARE_IP), ("ns", CLOUDFLARE_NS)),
             outlinks={"welt.de", "washingtonpost.com", "t.me"}),
        site("rrn.media", network=True, registered=at(2, 9, month=5, year=2022),
             text=page("rrn-nav", "rrn-footer", "rrn-7", "rrn-8"),
             ind=OPERATOR_TELLS + (("ns", OPERATOR_NS), ("ga", "G-RRN0001")),
             outlinks={"washingtonpost.com", "foxnews.com", "spiegel.de", "t.me"}),
    ]


def without_tells(profile: SiteProfile) -> SiteProfile:
    return replace(profile, indicators=frozenset())


def with_links(network: list[SiteProfile], target: str, *linkers: str) -> list[SiteProfile]:
    """The network with ``linkers`` linking to ``target``."""
    return [replace(p, outlinks=p.outlinks | {target}) if p.domain in linkers else p for p in network]


def score(candidate: SiteProfile, network: list[SiteProfile] | None = None, *, source: str = "lookalike",
          via: str = "tld-swap", policy: ScoringPolicy = POLICY, background: int = 200,
          store: StoreStats | None = None) -> Verdict:
    """Score ``candidate`` against ``network`` (default: the doppelganger network) on a store of the
    given profiles plus ``background`` unrelated domains (or ``store``)."""
    net = doppelganger_network() if network is None else network
    return score_candidate(candidate, net, store or stats(*net, candidate, background=background),
                           found(source, via), policy, now=NOW)
