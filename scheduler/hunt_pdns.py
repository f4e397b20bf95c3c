"""The passive-DNS route of a sweep (reverse IP / reverse NS): the names a pDNS server has seen on the
network's addresses and name servers become candidates, through the same name screen as NRD feeds and
zone files (scheduler/name_screen.py) and the same scoring.

Shared hosting must not flood the hunt, so a value is asked only when it can say something about one
operator, and its names are taken only when they are few:

- a commodity value (a CDN address, a DNS service's name server: detect/commodity.py) is never asked;
- a value on which pDNS shows more than ``discovery.pdns_max_per_query`` registrable names (or whose
  answer is over the size cap) is shared hosting: skipped whole and noted, never cut to a prefix (a prefix
  would be an arbitrary sample of strangers);
- the names left still have to pass the screen: lexically close to a network label, or resolving onto
  the network's addresses or name servers today.

A failing pDNS query is reported in ``source_errors``; the hunt goes on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence

from crawler.pdns import PdnsClient, names_on
from detect.commodity import commodity_reason
from detect.model import Candidate, ErrorKind, Indicator
from detect.names import InvalidDomain, registrable_domain
from detect.scoring import SiteProfile
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from scheduler.name_screen import NameScreen, ScreenStats

log = logging.getLogger(__name__)


def pdns_client(parts: Components) -> PdnsClient | None:
    cfg = parts.config.discovery
    if not cfg.pdns_url:
        return None
    return PdnsClient(cfg.pdns_url, user=cfg.pdns_user, password=cfg.pdns_password, timeout=cfg.pdns_timeout)


def asked_values(network: Sequence[SiteProfile], infrastructure: Iterable[Indicator]) -> list[tuple[Indicator, str]]:
    """The network's addresses and name servers worth asking, each with a network domain that uses it
    (the candidate's seed), commodity values left out (pure)."""
    users: dict[Indicator, str] = {}
    for p in sorted(network, key=lambda p: p.domain):
        for ind in p.indicators:
            users.setdefault(ind, p.domain)
    return [(ind, users.get(ind, "")) for ind in sorted(infrastructure, key=lambda i: (i.kind, i.value))
            if ind.kind in ("ip", "ns") and not commodity_reason(ind)]


def registrable_names(names: Iterable[str], known: set[str]) -> list[str]:
    """Registrable domains of the owner names, without the network's own and without junk (pure)."""
    out: set[str] = set()
    for name in names:
        try:
            domain = registrable_domain(name)
        except (InvalidDomain, ValueError):
            continue
        if domain not in known:
            out.add(domain)
    return sorted(out)


async def pdns_candidates(parts: Components, network: Sequence[SiteProfile], infrastructure: Iterable[Indicator],
                          screen: NameScreen, report: HuntReport) -> AsyncIterator[Candidate]:
    infra = list(infrastructure)
    async for c in pdns_asked(parts, asked_values(network, infra), {p.domain for p in network}, infra, screen, report):
        yield c


async def pdns_asked(parts: Components, asked: Sequence[tuple[Indicator, str]], known: set[str],
                     infrastructure: Iterable[Indicator], screen: NameScreen, report: HuntReport
                     ) -> AsyncIterator[Candidate]:
    """The route on values chosen already (:func:`asked_values`: a sweep source job gets them in its
    payload); ``known``: the network's domains."""
    client = pdns_client(parts)
    if client is None:
        return
    cap = parts.config.discovery.pdns_max_per_query
    skipped = [i for i in infrastructure if i.kind in ("ip", "ns") and commodity_reason(i)]
    if skipped:
        report.source_notes.append(f"pdns: {len(skipped)} commodity value(s) not asked (CDN, DNS service)")
    for ind, seed in asked:
        answer = await client.query(ind.value)
        if answer.error_kind is ErrorKind.TOO_LARGE:
            report.source_notes.append(f"pdns {ind.value}: answer over the size cap: shared hosting, skipped")
            continue
        if answer.error_kind is not None:
            report.source_errors.append(f"pdns {ind.value}: {answer.error_kind.value}: {answer.error}")
            log.warning("pDNS query for %s failed: %s", ind.value, answer.error)
            continue
        if answer.malformed:
            report.source_notes.append(f"pdns {ind.value}: {answer.malformed} malformed line(s) skipped")
        names = registrable_names(names_on(answer, ind.value), known)
        if len(names) > cap:
            report.source_notes.append(f"pdns {ind.value}: {len(names)} names, over discovery.pdns_max_per_query "
                                       f"({cap}): shared hosting, skipped")
            continue
        if not names:
            continue
        stats = ScreenStats()
        async for c in screen.screen(_each(names), source="pdns", via=f"pDNS {ind.kind} {ind.value}", stats=stats):
            yield Candidate(c.domain, c.source, c.via, seed)
        report.source_notes.append(f"pdns {ind.value}: {len(names)} name(s) seen, {stats.passed} passed the screen")


async def _each(names: Sequence[str]) -> AsyncIterator[str]:
    for name in names:
        yield name
