"""Build scoring inputs (detect.scoring.SiteProfile, StoreStats) from what the store observed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detect.model import Indicator, Status
from detect.names import host_of, split
from detect.scoring import SiteProfile, StoreStats
from detect.similarity import TextCrowd
from storage import observations, watchlist
from storage.models import DomainRow


def site_profile(session: Session, name: str, *, in_network: bool) -> SiteProfile:
    info = watchlist.get_domain(session, name)
    if info is None:
        raise KeyError(name)
    status = Status(info.status)
    # A lost site now shows a banner or nothing, and a redirecting one shows its target's pages (the
    # crawl follows the redirect): describe each as its operator last ran it.
    before = info.status_since if status.lost or status is Status.REDIRECTING else None
    every = observations.latest_indicators(session, name, before=before)
    outlinks = frozenset(i.value for i in every if i.kind == "outlink")
    indicators = frozenset(i for i in every if i.kind != "outlink")
    sketch = observations.latest_page_sketch(session, name, before=before)
    rdap = observations.latest_rdap(session, name)
    redirects_to = None
    for fetch in observations.latest_http(session, name):
        target = host_of(urlsplit(fetch.final_url).hostname or "") if fetch.final_url else None
        if target and target != name:
            redirects_to = target
            break
    lost_after = (observations.last_observed_before(session, name, info.status_since)
                  if status.lost and info.status_since is not None else None)
    return SiteProfile(
        domain=name, label=split(name).label, status=status, status_since=info.status_since,
        in_network=in_network, indicators=indicators,
        minhash=sketch.minhash if sketch else None, tlsh=sketch.tlsh if sketch else None,
        registered=rdap.registered if rdap else None, registrar=rdap.registrar if rdap else "",
        registered_via=rdap.via if rdap else "",
        outlinks=outlinks, redirects_to=redirects_to, parked=info.status == Status.PARKED.value,
        title=sketch.title if sketch else "", lost_after=lost_after, seeded=info.origin == "seed",
    )


def network_profiles(session: Session) -> list[SiteProfile]:
    return [site_profile(session, n, in_network=True) for n in watchlist.watched_names(session)]


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
