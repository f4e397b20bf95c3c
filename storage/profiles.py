"""Build scoring inputs (detect.scoring.SiteProfile, StoreStats) from what the store observed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detect.model import HttpFetch, Indicator, RdapRecord, Status
from detect.names import elsewhere, split
from detect.scoring import SiteProfile, StoreStats
from detect.similarity import TextCrowd
from storage import observations, watchlist
from storage.models import DomainRow
from storage.observations import PageSketch
from storage.values import DomainInfo


def site_profile(session: Session, name: str, *, in_network: bool) -> SiteProfile:
    """What scoring knows of ``name``, in six or so queries; KeyError if not in the store. For many names
    :func:`site_profiles` reads the same with a few queries a chunk of names."""
    info = watchlist.get_domain(session, name)
    if info is None:
        raise KeyError(name)
    before = _described_before(info)
    return _profile(info, in_network=in_network,
                    found=observations.latest_indicators(session, name, before=before),
                    sketch=observations.latest_page_sketch(session, name, before=before),
                    rdap=observations.latest_rdap(session, name), crawl=observations.latest_http(session, name),
                    lost_after=(observations.last_observed_before(session, name, info.status_since)
                                if info.status.lost and info.status_since is not None else None))


PROFILE_CHUNK = 2000
"""Names whose profiles are read together: what is read for them (rows, every indicator, page sketches,
the latest crawl's fetches) is about three times the profiles' size and is let go chunk by chunk, not held
for a whole 10^5-site network at once."""


def site_profiles(session: Session, names: Iterable[str], *, in_network: bool) -> dict[str, SiteProfile]:
    """:func:`site_profile` of each of ``names`` (name → profile, in the order of ``names``), read with a
    few queries a chunk of names rather than a few a name: what a hunt's scoring reads of its network and
    candidates. KeyError (naming the first) if one of ``names`` is not in the store, as site_profile."""
    wanted = list(dict.fromkeys(names))
    out: dict[str, SiteProfile] = {}
    for start in range(0, len(wanted), PROFILE_CHUNK):
        out.update(_site_profiles(session, wanted[start:start + PROFILE_CHUNK], in_network=in_network))
    return out


def _site_profiles(session: Session, wanted: list[str], *, in_network: bool) -> dict[str, SiteProfile]:
    rows = watchlist.domain_rows(session, wanted)
    missing = [n for n in wanted if n not in rows]
    if missing:
        raise KeyError(missing[0])
    infos = {n: watchlist.domain_info(rows[n]) for n in wanted}
    ids = {n: rows[n].id for n in wanted}
    before = {ids[n]: _described_before(info) for n, info in infos.items()}
    every = observations.latest_indicators_of(session, before)
    sketches = observations.latest_page_sketches(session, before)
    rdaps = observations.latest_rdaps(session, list(ids.values()))
    crawls = observations.latest_crawls(session, list(ids.values()))
    lost_after = observations.last_observed_befores(session, {
        ids[n]: info.status_since for n, info in infos.items() if info.status.lost and info.status_since is not None})
    return {name: _profile(info, in_network=in_network, found=every.get(ids[name], frozenset()),
                           sketch=sketches.get(ids[name]), rdap=rdaps.get(ids[name]), crawl=crawls.get(ids[name], []),
                           lost_after=lost_after.get(ids[name]))
            for name, info in infos.items()}


def _described_before(info: DomainInfo) -> datetime | None:
    """A lost site now shows a banner or nothing, and a redirecting one shows its target's pages (the
    crawl follows the redirect): describe each as its operator last ran it, before its status_since.
    Whatever the cut, the readers skip pages fetched through a redirect to another registered domain
    (``off_site``): a crawl committed before its batch's classification (a worker killed between them)
    can be older than the status_since it is cut by, and its pages are the target's."""
    return info.status_since if info.status.lost or info.status is Status.REDIRECTING else None


def _profile(info: DomainInfo, *, in_network: bool, found: frozenset[Indicator], sketch: PageSketch | None,
             rdap: RdapRecord | None, crawl: Iterable[HttpFetch], lost_after: datetime | None) -> SiteProfile:
    name = info.name
    # the first registrable domain other than the site's own a fetch of its latest crawl ended on
    redirects_to = next((t for t in (elsewhere(name, fetch.final_url) for fetch in crawl) if t), None)
    return SiteProfile(
        domain=name, label=split(name).label, status=info.status, status_since=info.status_since,
        in_network=in_network, indicators=frozenset(i for i in found if i.kind != "outlink"),
        minhash=sketch.minhash if sketch else None, tlsh=sketch.tlsh if sketch else None,
        registered=rdap.registered if rdap else None, registrar=rdap.registrar if rdap else "",
        registered_via=rdap.via if rdap else "", outlinks=frozenset(i.value for i in found if i.kind == "outlink"),
        redirects_to=redirects_to, parked=info.status is Status.PARKED, title=sketch.title if sketch else "",
        lost_after=lost_after, seeded=info.origin == "seed",
        registry_changed=(rdap.changed if rdap and info.status.lost and info.status_since is not None
                          and rdap.observed_at is not None and rdap.observed_at >= info.status_since else None),
    )


def network_profiles(session: Session) -> list[SiteProfile]:
    return list(site_profiles(session, watchlist.watched_names(session), in_network=True).values())


def store_stats(session: Session, profiles: Iterable[SiteProfile]) -> StoreStats:
    values: set[Indicator] = set()
    for p in profiles:
        values.update(p.indicators)
    total = int(session.scalar(select(func.count()).select_from(DomainRow)) or 0)
    texts, looks = observations.latest_page_signatures(session)
    return StoreStats(total_domains=total, share_counts=observations.share_counts(session, values),
                      page_templates=looks, text_crowd=TextCrowd(texts))


def network_infrastructure(session: Session, profiles: Sequence[SiteProfile]) -> frozenset[Indicator]:
    """IPs and name servers the network uses (for matching NRD feed entries against the store)."""
    return frozenset(i for p in profiles for i in p.indicators if i.kind in ("ip", "ns"))
