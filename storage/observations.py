"""Append-only observations (DNS, HTTP/TLS, RDAP) with their indicators and page bodies."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detect.indicator_kinds import bounded
from detect.model import DnsResult, HttpFetch, Indicator, RdapRecord
from storage import codec
from storage.inlist import chunks
from storage.models import DomainRow, IndicatorRow, ObservationRow, PageRow, StatusChangeRow
from storage.watchlist import domain_row

log = logging.getLogger(__name__)

LIVE_STATUSES = ("active", "redirecting", "parked")


@dataclass(frozen=True)
class PageSketch:
    """What the fingerprinter computed for a page, stored beside the body for the similarity index."""

    title: str = ""
    minhash: bytes | None = None
    tlsh: str | None = None


def _domain_id(session: Session, name: str) -> int:
    row = domain_row(session, name)
    if row is None:
        raise KeyError(f"{name} is not in the store")
    return row.id


def _add_indicators(session: Session, domain_id: int, obs_id: int, indicators: Iterable[Indicator],
                    now: datetime) -> None:
    """The observation's indicators, deduplicated and bounded (detect.indicator_kinds.bounded)."""
    seen: set[tuple[str, str]] = set()
    unique: list[Indicator] = []
    for ind in indicators:
        key = (ind.kind, ind.value[:512])
        if key in seen or not ind.value:
            continue
        seen.add(key)
        unique.append(Indicator(*key))
    kept, dropped = bounded(unique)
    if dropped:
        log.warning("observation %d: %d indicators over the cap dropped (%d kept)", obs_id, dropped, len(kept))
    for ind in kept:
        key = (ind.kind, ind.value)
        session.add(IndicatorRow(domain_id=domain_id, observation_id=obs_id, kind=key[0], value=key[1],
                                 observed_at=now))


def record_dns(session: Session, domain: str, result: DnsResult, indicators: Sequence[Indicator], *,
               now: datetime, cycle_id: int | None = None) -> int:
    domain_id = _domain_id(session, domain)
    obs = ObservationRow(domain_id=domain_id, kind="dns", observed_at=now, cycle_id=cycle_id,
                         rcode=result.rcode.value, error_kind=None if result.rcode.value in ("NOERROR", "NXDOMAIN",
                                                                                            "NOANSWER") else "dns",
                         error=result.error[:2000], raw=codec.dns_to_raw(result))
    session.add(obs)
    session.flush()
    _add_indicators(session, domain_id, obs.id, indicators, now)
    row = session.get(DomainRow, domain_id)
    assert row is not None
    row.last_probed = now
    return obs.id


def record_http(session: Session, fetch: HttpFetch, indicators: Sequence[Indicator], sketch: PageSketch, *,
                now: datetime, cycle_id: int | None = None) -> int:
    domain_id = _domain_id(session, fetch.domain)
    obs = ObservationRow(
        domain_id=domain_id, kind="http", observed_at=now, cycle_id=cycle_id,
        error_kind=fetch.error_kind.value if fetch.error_kind else None, error=fetch.error[:2000],
        url=fetch.url[:2000], final_url=fetch.final_url[:2000] or None, http_status=fetch.status,
        ip=fetch.ip or None, title=sketch.title[:1000] or None,
        cert_sha256=fetch.cert.sha256 if fetch.cert else None, raw=codec.http_to_raw(fetch),
    )
    session.add(obs)
    session.flush()
    if fetch.body:
        session.add(PageRow(observation_id=obs.id, domain_id=domain_id, body_gz=gzip.compress(fetch.body, 6),
                            truncated=fetch.truncated, minhash=sketch.minhash, tlsh=sketch.tlsh))
    _add_indicators(session, domain_id, obs.id, indicators, now)
    row = session.get(DomainRow, domain_id)
    assert row is not None
    if row.last_crawled is None or row.last_crawled < now:  # an archived copy is not a newer crawl
        row.last_crawled = now
    return obs.id


def has_http(session: Session, domain: str, url: str, observed_at: datetime) -> bool:
    """Is there an HTTP observation of ``url`` made at ``observed_at`` (an archived page imported before)?"""
    domain_id = _domain_id(session, domain)
    return session.scalar(select(ObservationRow.id).where(
        ObservationRow.domain_id == domain_id, ObservationRow.kind == "http", ObservationRow.url == url[:2000],
        ObservationRow.observed_at == observed_at).limit(1)) is not None


def record_rdap(session: Session, rec: RdapRecord, indicators: Sequence[Indicator], *, now: datetime,
                cycle_id: int | None = None) -> int:
    domain_id = _domain_id(session, rec.domain)
    obs = ObservationRow(domain_id=domain_id, kind="rdap", observed_at=now, cycle_id=cycle_id,
                         error_kind=rec.error_kind.value if rec.error_kind else None, error=rec.error[:2000],
                         registrar=rec.registrar[:500] or None, registered_at=rec.registered,
                         raw=codec.rdap_to_raw(rec))
    session.add(obs)
    session.flush()
    _add_indicators(session, domain_id, obs.id, indicators, now)
    return obs.id


def _latest(session: Session, domain_id: int, kind: str, before: datetime | None = None) -> ObservationRow | None:
    query = select(ObservationRow).where(ObservationRow.domain_id == domain_id, ObservationRow.kind == kind)
    if before is not None:
        query = query.where(ObservationRow.observed_at < before)
    return session.scalar(query.order_by(ObservationRow.observed_at.desc(), ObservationRow.id.desc()).limit(1))


def latest_dns(session: Session, domain: str) -> DnsResult | None:
    row = _latest(session, _domain_id(session, domain), "dns")
    return codec.dns_from_raw(row.raw, row.observed_at) if row else None


def latest_rdap(session: Session, domain: str, *, successful: bool = True) -> RdapRecord | None:
    domain_id = _domain_id(session, domain)
    query = select(ObservationRow).where(ObservationRow.domain_id == domain_id, ObservationRow.kind == "rdap")
    if successful:
        query = query.where(ObservationRow.error_kind.is_(None))
    row = session.scalar(query.order_by(ObservationRow.observed_at.desc(), ObservationRow.id.desc()).limit(1))
    return codec.rdap_from_raw(row.raw, row.observed_at) if row else None


def latest_http(session: Session, domain: str, *, with_body: bool = False) -> list[HttpFetch]:
    """The fetches of the most recent crawl of ``domain`` (all observations sharing its cycle/time)."""
    domain_id = _domain_id(session, domain)
    last = _latest(session, domain_id, "http")
    if last is None:
        return []
    query = select(ObservationRow).where(ObservationRow.domain_id == domain_id, ObservationRow.kind == "http")
    if last.cycle_id is not None:
        query = query.where(ObservationRow.cycle_id == last.cycle_id)
    else:
        query = query.where(ObservationRow.observed_at == last.observed_at)
    out = []
    for row in session.scalars(query.order_by(ObservationRow.id)):
        body = b""
        if with_body:
            page = session.get(PageRow, row.id)
            body = gzip.decompress(page.body_gz) if page else b""
        out.append(codec.http_from_raw(row.raw, body, row.observed_at))
    return out


def was_live(session: Session, domain: str) -> bool:
    """Has the domain ever been seen serving (active, redirecting or parked)?"""
    domain_id = _domain_id(session, domain)
    return bool(session.scalar(select(func.count()).select_from(StatusChangeRow).where(
        StatusChangeRow.domain_id == domain_id, StatusChangeRow.status.in_(LIVE_STATUSES))))


def latest_indicators(session: Session, domain: str, *, before: datetime | None = None) -> frozenset[Indicator]:
    """Indicators of the latest observation of each kind (dns, http crawl, rdap) of ``domain``; with
    ``before``, of the latest ones made before then (a seized site's last operator-run state)."""
    domain_id = _domain_id(session, domain)
    obs_ids: list[int] = []
    for kind in ("dns", "rdap"):
        row = _latest(session, domain_id, kind, before)
        if row is not None and (kind != "dns" or row.rcode == "NOERROR"):
            obs_ids.append(row.id)
    last_http = _latest(session, domain_id, "http", before)
    if last_http is not None:
        query = select(ObservationRow.id).where(ObservationRow.domain_id == domain_id, ObservationRow.kind == "http")
        query = (query.where(ObservationRow.cycle_id == last_http.cycle_id) if last_http.cycle_id is not None
                 else query.where(ObservationRow.observed_at == last_http.observed_at))
        obs_ids.extend(session.scalars(query))
    if not obs_ids:
        return frozenset()
    found: set[Indicator] = set()
    for chunk in chunks(obs_ids):
        rows = session.execute(select(IndicatorRow.kind, IndicatorRow.value)
                               .where(IndicatorRow.observation_id.in_(chunk)))
        found.update(Indicator(k, v) for k, v in rows)
    return frozenset(found)


def share_counts(session: Session, values: Iterable[Indicator]) -> dict[Indicator, int]:
    """For each value: how many distinct store domains ever carried it (rarity for scoring)."""
    wanted = list(set(values))
    out: dict[Indicator, int] = {v: 0 for v in wanted}
    by_kind: dict[str, list[str]] = {}
    for ind in wanted:
        by_kind.setdefault(ind.kind, []).append(ind.value)
    for kind, vals in by_kind.items():
        for chunk in chunks(vals):
            rows = session.execute(
                select(IndicatorRow.value, func.count(func.distinct(IndicatorRow.domain_id)))
                .where(IndicatorRow.kind == kind, IndicatorRow.value.in_(chunk)).group_by(IndicatorRow.value))
            for value, count in rows:
                out[Indicator(kind, value)] = int(count)
    return out


def last_observed_before(session: Session, domain: str, moment: datetime) -> datetime | None:
    """When ``domain`` was last observed (any kind) before ``moment``: for a lost domain, the last time
    it was seen as it was before the loss."""
    domain_id = _domain_id(session, domain)
    found = session.scalar(select(func.max(ObservationRow.observed_at))
                           .where(ObservationRow.domain_id == domain_id, ObservationRow.observed_at < moment))
    return found if isinstance(found, datetime) else None


def latest_page_signatures(session: Session) -> tuple[dict[str, bytes], dict[str, str]]:
    """(domain → MinHash, domain → TLSH) of the latest stored page of every domain that has each, in
    one pass: the store's crowd of page texts and page looks."""
    rows = session.execute(select(DomainRow.name, PageRow.minhash, PageRow.tlsh)
                           .join(DomainRow, DomainRow.id == PageRow.domain_id)
                           .where(PageRow.minhash.is_not(None) | PageRow.tlsh.is_not(None))
                           .order_by(PageRow.observation_id).execution_options(yield_per=5000))
    texts: dict[str, bytes] = {}
    looks: dict[str, str] = {}
    for name, minhash, digest in rows:
        if minhash is not None:
            texts[name] = minhash
        if digest and digest != "TNULL":
            looks[name] = digest
    return texts, looks


def page_sketches(session: Session) -> Iterable[tuple[str, int, bytes]]:
    """(domain, observation id, minhash) of every stored page with a sketch, oldest first: feeds the
    LSH index (a later page of a domain replaces its earlier one there)."""
    rows = session.execute(select(DomainRow.name, PageRow.observation_id, PageRow.minhash)
                           .join(DomainRow, DomainRow.id == PageRow.domain_id)
                           .where(PageRow.minhash.is_not(None)).order_by(PageRow.observation_id)
                           .execution_options(yield_per=2000))
    for name, obs_id, minhash in rows:
        if minhash is not None:
            yield name, obs_id, minhash


def latest_page_sketch(session: Session, domain: str, *, before: datetime | None = None) -> PageSketch | None:
    """The sketch of the newest page of ``domain`` that has one (home pages come first in a crawl)."""
    domain_id = _domain_id(session, domain)
    query = (select(PageRow.minhash, PageRow.tlsh, ObservationRow.title)
             .join(ObservationRow, ObservationRow.id == PageRow.observation_id)
             .where(PageRow.domain_id == domain_id, PageRow.minhash.is_not(None)))
    if before is not None:
        query = query.where(ObservationRow.observed_at < before)
    row = session.execute(query.order_by(ObservationRow.observed_at.desc(), PageRow.observation_id).limit(1)).first()
    if row is None:
        return None
    return PageSketch(title=row.title or "", minhash=row.minhash, tlsh=row.tlsh)
