"""Observations (DNS, HTTP/TLS, RDAP) with their indicators and page bodies.

HTTP and RDAP looks are appended, one row each. DNS grows with change: a round's answer equal to the
latest row's is a stamp on that row (``last_seen_at``, ``prev_seen_at``, ``repeats``), a different one a
new row with its indicators; :func:`record_dns_batch` writes many domains in the caller's transaction.
Bodies are kept once per SHA-256 in ``bodies``.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, func, insert, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from detect.bodies import PackedBody, body_digest, pack_body
from detect.indicator_kinds import bounded
from detect.model import DnsResult, HttpFetch, Indicator, Rcode, RdapRecord
from detect.names import elsewhere
from storage import codec
from storage.inlist import IN_CHUNK, chunks
from storage.models import (
    BodyRow,
    DomainRow,
    IndicatorRow,
    ObservationRow,
    PageRow,
    StatusChangeRow,
    UtcDateTime,
)
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


def _indicator_rows(domain_id: int, obs_id: int, indicators: Iterable[Indicator],
                    now: datetime) -> list[dict[str, Any]]:
    """The observation's indicators, deduplicated and bounded (detect.indicator_kinds.bounded), as rows."""
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
    return [{"domain_id": domain_id, "observation_id": obs_id, "kind": ind.kind, "value": ind.value,
             "observed_at": now} for ind in kept]


def _add_indicators(session: Session, domain_id: int, obs_id: int, indicators: Iterable[Indicator],
                    now: datetime) -> None:
    rows = _indicator_rows(domain_id, obs_id, indicators, now)
    if rows:
        session.execute(insert(IndicatorRow), rows)


@dataclass(frozen=True)
class DnsWrite:
    """One domain's answer in a round, with the indicators drawn from it."""

    domain: str
    result: DnsResult
    indicators: tuple[Indicator, ...] = ()


@dataclass(frozen=True)
class DnsWritten:
    """What a batch did: observations written (a new answer) and stamped (the latest answer again)."""

    written: int = 0
    stamped: int = 0
    ids: dict[str, int] = field(default_factory=dict)  # domain → its current DNS observation


def _answer(raw: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two DNS answers the same: rcode, error and each record type's values as a set."""
    records = raw.get("records") or {}
    return (raw.get("rcode"), raw.get("error", ""),
            tuple(sorted((k, tuple(sorted(map(str, v)))) for k, v in records.items() if v)))


def _latest_dns_rows(session: Session, domain_ids: Sequence[int]) -> dict[int, ObservationRow]:
    """The newest DNS observation of each of ``domain_ids`` (one query a chunk: DNS rows are few, one per
    change of answer)."""
    out: dict[int, ObservationRow] = {}
    for chunk in chunks(domain_ids):
        newest = (select(func.max(ObservationRow.id).label("id")).where(ObservationRow.domain_id.in_(chunk),
                                                                        ObservationRow.kind == "dns")
                  .group_by(ObservationRow.domain_id).subquery())
        for row in session.scalars(select(ObservationRow).join(newest, ObservationRow.id == newest.c.id)):
            out[row.domain_id] = row
    return out


def _domains_by_name(session: Session, names: Sequence[str]) -> dict[str, tuple[int, datetime | None]]:
    """name → (id, status_since) of those of ``names`` in the store."""
    out: dict[str, tuple[int, datetime | None]] = {}
    for chunk in chunks(names):
        for did, name, since in session.execute(select(DomainRow.id, DomainRow.name, DomainRow.status_since)
                                                .where(DomainRow.name.in_(chunk))):
            out[name] = (did, since)
    return out


def _stamp(session: Session, obs_ids: Sequence[int], now: datetime) -> None:
    """The answers of ``obs_ids`` seen again at ``now``."""
    for chunk in chunks(obs_ids):
        session.execute(update(ObservationRow).where(ObservationRow.id.in_(chunk)).values(
            prev_seen_at=func.coalesce(ObservationRow.last_seen_at, ObservationRow.observed_at), last_seen_at=now,
            repeats=ObservationRow.repeats + 1).execution_options(synchronize_session=False))


def _mark_probed(session: Session, domain_ids: Sequence[int], now: datetime) -> None:
    for chunk in chunks(domain_ids):
        session.execute(update(DomainRow).where(DomainRow.id.in_(chunk)).values(last_probed=now)
                        .execution_options(synchronize_session=False))


def record_dns_batch(session: Session, writes: Sequence[DnsWrite], *, now: datetime,
                     cycle_id: int | None = None) -> DnsWritten:
    """Record many domains' answers in the caller's transaction. An answer equal to the domain's latest
    DNS row (and the domain's status unchanged since that row began) stamps that row — ``last_seen_at``
    = now, the old value into ``prev_seen_at``, ``repeats`` + 1 — instead of adding one; a new answer
    is a new row with its indicators. Recording the same round twice changes nothing."""
    if not writes:
        return DnsWritten()
    names = [w.domain for w in writes]
    domains = _domains_by_name(session, names)
    missing = [n for n in names if n not in domains]
    if missing:
        raise KeyError(f"{missing[0]} is not in the store")
    latest = _latest_dns_rows(session, [domains[n][0] for n in names])
    stamp: list[int] = []
    ids: dict[str, int] = {}
    fresh: list[tuple[DnsWrite, int, ObservationRow]] = []
    for write in writes:
        domain_id, since = domains[write.domain]
        raw = codec.dns_to_raw(write.result)
        last = latest.get(domain_id)
        if last is not None and _answer(last.raw) == _answer(raw) and (since is None or since <= last.observed_at):
            seen = last.last_seen_at or last.observed_at
            if seen < now:
                stamp.append(last.id)
            ids[write.domain] = last.id
            continue
        rcode = write.result.rcode.value
        obs = ObservationRow(domain_id=domain_id, kind="dns", observed_at=now, last_seen_at=now, repeats=0,
                             cycle_id=cycle_id, rcode=rcode,
                             error_kind=None if rcode in ("NOERROR", "NXDOMAIN", "NOANSWER") else "dns",
                             error=write.result.error[:2000], raw=raw)
        latest[domain_id] = obs  # the same domain twice in one batch: the second compares with the first
        fresh.append((write, domain_id, obs))
    session.add_all([obs for _, _, obs in fresh])
    session.flush()
    indicator_rows: list[dict[str, Any]] = []
    for write, domain_id, obs in fresh:
        ids[write.domain] = obs.id
        indicator_rows.extend(_indicator_rows(domain_id, obs.id, write.indicators, now))
    for start in range(0, len(indicator_rows), 5000):
        session.execute(insert(IndicatorRow), indicator_rows[start:start + 5000])
    _stamp(session, stamp, now)
    _mark_probed(session, [domains[n][0] for n in names], now)
    stamped = set(stamp)
    for obs in latest.values():
        if obs.id in stamped:
            session.expire(obs)
    return DnsWritten(written=len(fresh), stamped=len(stamp), ids=ids)


def record_dns(session: Session, domain: str, result: DnsResult, indicators: Sequence[Indicator], *,
               now: datetime, cycle_id: int | None = None) -> int:
    """One domain's answer (see :func:`record_dns_batch`); returns its current DNS observation's id."""
    done = record_dns_batch(session, [DnsWrite(domain, result, tuple(indicators))], now=now, cycle_id=cycle_id)
    return done.ids[domain]


def _table(model: type[Any]) -> Table:
    """The Core table of an ORM class: bulk inserts without the ORM's per-row work."""
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class HttpWrite:
    """One fetch of a crawl, with the indicators and the page sketch drawn from it."""

    fetch: HttpFetch
    indicators: tuple[Indicator, ...] = ()
    sketch: PageSketch = field(default_factory=PageSketch)
    packed: PackedBody | None = None  # (SHA-256 hex, gzip) of fetch.body when already packed (detect.bodies)


def _keep_bodies(session: Session, bodies: Iterable[tuple[bytes, PackedBody | None]], now: datetime) -> list[str]:
    """Store each body once (by SHA-256, gzip'd: detect.bodies); returns their digests in order. A body comes
    with its (digest, gzip) when the crawl's page workers packed it already, else it is packed here. Bodies
    already kept cost one look-up a chunk; a body twice in ``bodies`` is compressed and written once."""
    triples = [(packed[0] if packed is not None else body_digest(body), body, packed) for body, packed in bodies]
    wanted: dict[str, tuple[bytes, PackedBody | None]] = {digest: (body, packed) for digest, body, packed in triples}
    kept: set[str] = set()
    for chunk in chunks(list(wanted)):
        kept.update(session.scalars(select(BodyRow.sha256).where(BodyRow.sha256.in_(chunk))))
    rows = [{"sha256": digest, "body_gz": packed[1] if packed is not None else pack_body(body)[1], "size": len(body),
             "first_seen": now}
            for digest, (body, packed) in wanted.items() if digest not in kept]
    if rows:
        dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(dialect_insert(BodyRow).on_conflict_do_nothing(index_elements=["sha256"]), rows)
    return [digest for digest, _body, _packed in triples]


def record_http_batch(session: Session, writes: Sequence[HttpWrite], *, now: datetime,
                      cycle_id: int | None = None) -> list[int]:
    """Record many fetches (of one or many domains) in the caller's transaction, with Core inserts:
    one observation each, its page (body kept once per SHA-256) and its indicators; each domain's
    ``last_crawled`` moves to ``now`` unless it is already later (an archived copy is not a newer crawl).
    Returns the observations' ids, in the order of ``writes``."""
    if not writes:
        return []
    names = list(dict.fromkeys(w.fetch.domain for w in writes))
    domains = _domains_by_name(session, names)
    missing = [n for n in names if n not in domains]
    if missing:
        raise KeyError(f"{missing[0]} is not in the store")
    obs_rows: list[dict[str, Any]] = []
    for write in writes:
        fetch, sketch = write.fetch, write.sketch
        obs_rows.append({
            "domain_id": domains[fetch.domain][0], "kind": "http", "observed_at": now, "last_seen_at": now,
            "prev_seen_at": None, "repeats": 0, "cycle_id": cycle_id,
            "error_kind": fetch.error_kind.value if fetch.error_kind else None, "error": fetch.error[:2000],
            "rcode": None, "url": fetch.url[:2000], "final_url": fetch.final_url[:2000] or None,
            "http_status": fetch.status, "ip": fetch.ip or None, "title": sketch.title[:1000] or None,
            "cert_sha256": fetch.cert.sha256 if fetch.cert else None, "registrar": None, "registered_at": None,
            "off_site": elsewhere(fetch.domain, fetch.final_url) is not None, "raw": codec.http_to_raw(fetch)})
    table = _table(ObservationRow)
    ids = list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), obs_rows))
    with_body = [(write, obs_id) for write, obs_id in zip(writes, ids) if write.fetch.body]
    digests = _keep_bodies(session, ((write.fetch.body, write.packed) for write, _ in with_body), now)
    page_rows = [{"observation_id": obs_id, "domain_id": domains[write.fetch.domain][0], "body_sha256": digest,
                  "truncated": write.fetch.truncated, "minhash": write.sketch.minhash, "tlsh": write.sketch.tlsh}
                 for (write, obs_id), digest in zip(with_body, digests)]
    if page_rows:
        session.execute(insert(_table(PageRow)), page_rows)
    indicator_rows: list[dict[str, Any]] = []
    for write, obs_id in zip(writes, ids):
        indicator_rows.extend(_indicator_rows(domains[write.fetch.domain][0], obs_id, write.indicators, now))
    for start in range(0, len(indicator_rows), 5000):
        session.execute(insert(_table(IndicatorRow)), indicator_rows[start:start + 5000])
    domain_ids = [domains[n][0] for n in names]
    touched = set(domain_ids)
    for chunk in chunks(domain_ids):
        session.execute(update(DomainRow).where(
            DomainRow.id.in_(chunk), or_(DomainRow.last_crawled.is_(None), DomainRow.last_crawled < now))
            .values(last_crawled=now).execution_options(synchronize_session=False))
    for obj in list(session.identity_map.values()):  # DomainRow objects the session holds: read again
        if isinstance(obj, DomainRow) and obj.id in touched:
            session.expire(obj, ["last_crawled"])
    return ids


def record_http(session: Session, fetch: HttpFetch, indicators: Sequence[Indicator], sketch: PageSketch, *,
                now: datetime, cycle_id: int | None = None) -> int:
    """One fetch (see :func:`record_http_batch`); returns its observation's id."""
    return record_http_batch(session, [HttpWrite(fetch, tuple(indicators), sketch)], now=now,
                             cycle_id=cycle_id)[0]


def has_http(session: Session, domain: str, url: str, observed_at: datetime) -> bool:
    """Is there an HTTP observation of ``url`` made at ``observed_at`` (an archived page imported before)?"""
    domain_id = _domain_id(session, domain)
    return session.scalar(select(ObservationRow.id).where(
        ObservationRow.domain_id == domain_id, ObservationRow.kind == "http", ObservationRow.url == url[:2000],
        ObservationRow.observed_at == observed_at).limit(1)) is not None


@dataclass(frozen=True)
class RdapWrite:
    """One domain's registration lookup in a round, with the indicators drawn from it."""

    record: RdapRecord
    indicators: tuple[Indicator, ...] = ()


def _registration(raw: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two RDAP looks the same registration: every field the lookup parsed (registrar, dates,
    statuses, name servers, the HTTP status, the error), not the server's JSON text, which servers stamp
    per answer ("last update of RDAP database"): the first look's text is kept."""
    return (raw.get("domain"), raw.get("http_status"), raw.get("registrar"), raw.get("registered"),
            raw.get("expires"), raw.get("changed"), tuple(raw.get("statuses") or ()), tuple(raw.get("nameservers") or ()),
            raw.get("error_kind"), raw.get("error", ""), raw.get("source") or "rdap")


def _latest_rdap_rows(session: Session, domain_ids: Sequence[int]) -> dict[int, ObservationRow]:
    """The newest RDAP observation (successful or not) of each of ``domain_ids``, one query a chunk."""
    out: dict[int, ObservationRow] = {}
    for chunk in chunks(domain_ids, IN_CHUNK // 2):
        heads = select(_newest("rdap", {}, chunk).label("id")).where(DomainRow.id.in_(chunk)).subquery()
        for row in session.scalars(select(ObservationRow).join(heads, ObservationRow.id == heads.c.id)):
            out[row.domain_id] = row
    return out


def record_rdap_batch(session: Session, writes: Sequence[RdapWrite], *, now: datetime,
                      cycle_id: int | None = None) -> DnsWritten:
    """Record many domains' registration lookups in the caller's transaction. A look that finds the same
    registration as the domain's latest RDAP row (:func:`_registration`; the domain's status unchanged
    since that row began) stamps that row as DNS rows are stamped (``last_seen_at``, ``prev_seen_at``,
    ``repeats``); a changed registration, or a first look, is a new row with its indicators. Recording the
    same batch again at the same ``now`` changes nothing (a retried job), and a changed registration is
    always a new row. The domains' rows are locked first (PostgreSQL: FOR UPDATE, in id order), so two
    attempts of one batch running at once record it once."""
    if not writes:
        return DnsWritten()
    names = [w.record.domain for w in writes]
    domains: dict[str, tuple[int, datetime | None]] = {}
    for chunk in chunks(names):
        for did, name, since in session.execute(select(DomainRow.id, DomainRow.name, DomainRow.status_since)
                                                .where(DomainRow.name.in_(chunk)).order_by(DomainRow.id)
                                                .with_for_update()):
            domains[name] = (did, since)
    missing = [n for n in names if n not in domains]
    if missing:
        raise KeyError(f"{missing[0]} is not in the store")
    latest = _latest_rdap_rows(session, [domains[n][0] for n in names])
    stamp: list[int] = []
    ids: dict[str, int] = {}
    fresh: list[tuple[RdapWrite, int, dict[str, Any]]] = []
    for write in writes:
        rec = write.record
        domain_id, since = domains[rec.domain]
        raw = codec.rdap_to_raw(rec)
        last = latest.get(domain_id)
        if (last is not None and _registration(last.raw) == _registration(raw)
                and (since is None or since <= last.observed_at)):
            if (last.last_seen_at or last.observed_at) < now and last.id not in stamp:
                stamp.append(last.id)
            ids[rec.domain] = last.id
            continue
        row = {"domain_id": domain_id, "kind": "rdap", "observed_at": now, "last_seen_at": now,
               "prev_seen_at": None, "repeats": 0, "cycle_id": cycle_id,
               "error_kind": rec.error_kind.value if rec.error_kind else None, "error": rec.error[:2000],
               "rcode": None, "url": None, "final_url": None, "http_status": None, "ip": None, "title": None,
               "cert_sha256": None, "registrar": rec.registrar[:500] or None, "registered_at": rec.registered,
               "raw": raw}
        # the same domain twice in one batch: the second compares with the first (a stand-in, not in the
        # session, whose id -1 - i names the i-th new row until it has its own)
        ids[rec.domain] = -1 - len(fresh)
        latest[domain_id] = ObservationRow(id=-1 - len(fresh), observed_at=now, last_seen_at=now, raw=raw)
        fresh.append((write, domain_id, row))
    table = _table(ObservationRow)
    new_ids = (list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                    [row for _, _, row in fresh])) if fresh else [])
    indicator_rows: list[dict[str, Any]] = []
    for (write, domain_id, _row), obs_id in zip(fresh, new_ids):
        indicator_rows.extend(_indicator_rows(domain_id, obs_id, write.indicators, now))
    ids = {name: new_ids[-1 - obs_id] if obs_id < 0 else obs_id for name, obs_id in ids.items()}
    for start in range(0, len(indicator_rows), 5000):
        session.execute(insert(_table(IndicatorRow)), indicator_rows[start:start + 5000])
    _stamp(session, stamp, now)
    stamped = set(stamp)
    for obs in latest.values():
        if obs.id in stamped:  # rows read from the session (stand-ins are never stamped)
            session.expire(obs)
    return DnsWritten(written=len(fresh), stamped=len(stamp), ids=ids)


def record_rdap(session: Session, rec: RdapRecord, indicators: Sequence[Indicator], *, now: datetime,
                cycle_id: int | None = None) -> int:
    """One domain's lookup (see :func:`record_rdap_batch`); returns its current RDAP observation's id."""
    done = record_rdap_batch(session, [RdapWrite(rec, tuple(indicators))], now=now, cycle_id=cycle_id)
    return done.ids[rec.domain]


def _latest(session: Session, domain_id: int, kind: str, before: datetime | None = None, *,
            own: bool = False) -> ObservationRow | None:
    """The newest ``kind`` observation of the domain (made before ``before``); ``own``: not one fetched
    through a redirect to another registered domain (``off_site``)."""
    query = select(ObservationRow).where(ObservationRow.domain_id == domain_id, ObservationRow.kind == kind)
    if own:
        query = query.where(ObservationRow.off_site.is_(False))
    if before is not None:
        query = query.where(ObservationRow.observed_at < before)
    return session.scalar(query.order_by(ObservationRow.observed_at.desc(), ObservationRow.id.desc()).limit(1))


def latest_dns(session: Session, domain: str) -> DnsResult | None:
    row = _latest(session, _domain_id(session, domain), "dns")
    return codec.dns_from_raw(row.raw, row.last_seen_at or row.observed_at) if row else None


def latest_dnses(session: Session, domains: Sequence[str], *, conclusive: bool = False
                 ) -> dict[str, DnsResult | None]:
    """:func:`latest_dns` of many domains, one query a chunk: name → its newest DNS answer (None: never
    probed; ``conclusive``: the newest that is an answer about the name, not a timeout or an error, None if
    none is). KeyError, as latest_dns, for a name not in the store."""
    ids = _domains_by_name(session, list(dict.fromkeys(domains)))
    missing = [name for name in domains if name not in ids]
    if missing:
        raise KeyError(f"{missing[0]} is not in the store")
    found: dict[int, DnsResult] = {}
    for chunk in chunks([did for did, _since in ids.values()]):
        rank = func.row_number().over(partition_by=ObservationRow.domain_id,
                                      order_by=(ObservationRow.observed_at.desc(), ObservationRow.id.desc()))
        query = select(ObservationRow.id, rank.label("rank")).where(ObservationRow.domain_id.in_(chunk),
                                                                     ObservationRow.kind == "dns")
        if conclusive:
            query = query.where(ObservationRow.rcode.not_in([r.value for r in Rcode if not r.conclusive]))
        ranked = query.subquery()
        rows = session.execute(select(ObservationRow.domain_id, ObservationRow.raw, ObservationRow.last_seen_at,
                                      ObservationRow.observed_at)
                               .join(ranked, ObservationRow.id == ranked.c.id).where(ranked.c.rank == 1))
        for did, raw, last_seen, observed in rows:
            found[did] = codec.dns_from_raw(raw, last_seen or observed)
    return {name: found.get(ids[name][0]) for name in domains}


def latest_rdap(session: Session, domain: str, *, successful: bool = True) -> RdapRecord | None:
    """The newest RDAP record of ``domain`` (``successful``: the newest successful one), as of when it was last
    seen (a repeated registration stamps its row: :func:`record_rdap_batch`)."""
    domain_id = _domain_id(session, domain)
    query = select(ObservationRow).where(ObservationRow.domain_id == domain_id, ObservationRow.kind == "rdap")
    if successful:
        query = query.where(ObservationRow.error_kind.is_(None))
    row = session.scalar(query.order_by(ObservationRow.observed_at.desc(), ObservationRow.id.desc()).limit(1))
    return codec.rdap_from_raw(row.raw, row.last_seen_at or row.observed_at) if row else None


def with_rdap(session: Session, domains: Sequence[str]) -> set[str]:
    """Those of ``domains`` with a successful RDAP record (:func:`latest_rdap` not None), one query a chunk:
    what a round asks before its lookups. KeyError, as latest_rdap, for a name not in the store."""
    ids = _domains_by_name(session, list(dict.fromkeys(domains)))
    missing = [name for name in domains if name not in ids]
    if missing:
        raise KeyError(f"{missing[0]} is not in the store")
    have: set[int] = set()
    for chunk in chunks([did for did, _since in ids.values()]):
        have.update(session.scalars(select(ObservationRow.domain_id).distinct().where(
            ObservationRow.domain_id.in_(chunk), ObservationRow.kind == "rdap", ObservationRow.error_kind.is_(None))))
    return {name for name in domains if ids[name][0] in have}


def latest_rdaps(session: Session, domain_ids: Sequence[int]) -> dict[int, RdapRecord]:
    """:func:`latest_rdap` (successful lookups) of many domains by id, one query a chunk: domain id → its
    newest successful RDAP record, for those that have one."""
    out: dict[int, RdapRecord] = {}
    for chunk in chunks(domain_ids):
        rank = func.row_number().over(partition_by=ObservationRow.domain_id,
                                      order_by=(ObservationRow.observed_at.desc(), ObservationRow.id.desc()))
        ranked = (select(ObservationRow.id, rank.label("rank"))
                  .where(ObservationRow.domain_id.in_(chunk), ObservationRow.kind == "rdap",
                         ObservationRow.error_kind.is_(None)).subquery())
        rows = session.execute(select(ObservationRow.domain_id, ObservationRow.raw, ObservationRow.last_seen_at,
                                      ObservationRow.observed_at)
                               .join(ranked, ObservationRow.id == ranked.c.id).where(ranked.c.rank == 1))
        for domain_id, raw, last_seen, observed_at in rows:
            out[domain_id] = codec.rdap_from_raw(raw, last_seen or observed_at)
    return out


def _before(before: Mapping[int, datetime | None], chunk: Sequence[int], domain: Any,
            at: Any) -> ColumnElement[bool]:
    """``at`` earlier than its domain's cut-off in ``before`` (domain id → moment; None: no cut), for
    the domains of ``chunk``: one CASE over the chunk's ids, so every domain keeps its own moment."""
    cut = {did: before[did] for did in chunk if before.get(did) is not None}
    if not cut:
        return true()
    limit = case({did: literal(moment, UtcDateTime()) for did, moment in cut.items()}, value=domain)
    return or_(limit.is_(None), at < limit)


def _newest(kind: str, before: Mapping[int, datetime | None], chunk: Sequence[int], *, own: bool = False) -> Any:
    """The id of the newest ``kind`` observation of the domain of the enclosing query's DomainRow made
    before its cut-off (``own``: and not fetched through a redirect to another registered domain): a
    correlated LIMIT 1, one index probe a domain however long its history."""
    o = _table(ObservationRow).alias()  # Core aliases: an ORM alias costs milliseconds of adaptation a query
    return (select(o.c.id).where(o.c.domain_id == DomainRow.id, o.c.kind == kind,
                                 _before(before, chunk, o.c.domain_id, o.c.observed_at),
                                 o.c.off_site.is_(False) if own else true())
            .order_by(o.c.observed_at.desc(), o.c.id.desc()).limit(1).correlate(DomainRow).scalar_subquery())


def _crawl_rows(session: Session, before: Mapping[int, datetime | None], *columns: Any,
               own: bool = False) -> list[Any]:
    """``columns`` of the fetches of each domain's latest crawl made before its cut-off in ``before``
    (domain id → moment; None: no cut): every HTTP observation sharing the newest one's cycle (or its
    time, when it has no cycle), in id order; one query a chunk of domains. ``own``: only the fetches
    that stayed on the domain's registered domain (not ``off_site``), of the latest crawl that has one."""
    out: list[Any] = []
    for chunk in chunks(list(before), IN_CHUNK // 2):
        heads = (select(_newest("http", before, chunk, own=own).label("id")).where(DomainRow.id.in_(chunk))
                 .subquery())
        newest = _table(ObservationRow).alias()
        sibling = or_(ObservationRow.cycle_id == newest.c.cycle_id,
                      and_(newest.c.cycle_id.is_(None), ObservationRow.observed_at == newest.c.observed_at))
        out.extend(session.execute(
            select(*columns).join(newest, and_(ObservationRow.domain_id == newest.c.domain_id,
                                               ObservationRow.kind == "http", sibling))
            .join(heads, newest.c.id == heads.c.id)
            .where(ObservationRow.off_site.is_(False) if own else true()).order_by(ObservationRow.id)))
    return out


def latest_http(session: Session, domain: str, *, with_body: bool = False) -> list[HttpFetch]:
    """The fetches of the most recent crawl of ``domain`` (all observations sharing its cycle/time). Its
    own two queries, not :func:`latest_crawls` of one: observing classifies domains one by one with it,
    and building the batched statement costs more in Python than this one's round trips."""
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
            packed = session.scalar(select(BodyRow.body_gz).join(PageRow, PageRow.body_sha256 == BodyRow.sha256)
                                    .where(PageRow.observation_id == row.id))
            body = gzip.decompress(packed) if packed is not None else b""
        out.append(codec.http_from_raw(row.raw, body, row.observed_at))
    return out


def latest_crawls(session: Session, domain_ids: Sequence[int], *,
                  body_of: Callable[[HttpFetch], bool] | None = None) -> dict[int, list[HttpFetch]]:
    """:func:`latest_http` of many domains by id, one query a chunk: domain id → the fetches of its latest
    crawl, for those crawled. Without bodies, except those of the fetches ``body_of`` says are needed
    (one more query a chunk of them): what classifying a round reads (detect.classify.site_answered)."""
    out: dict[int, list[HttpFetch]] = {}
    wanted: dict[int, tuple[list[HttpFetch], int]] = {}  # observation id → (its domain's list, its place)
    for did, obs_id, raw, observed_at in _crawl_rows(session, dict.fromkeys(domain_ids), ObservationRow.domain_id,
                                                     ObservationRow.id, ObservationRow.raw,
                                                     ObservationRow.observed_at):
        fetches = out.setdefault(did, [])
        fetch = codec.http_from_raw(raw, b"", observed_at)
        if body_of is not None and body_of(fetch):
            wanted[obs_id] = (fetches, len(fetches))
        fetches.append(fetch)
    for chunk in chunks(list(wanted)):
        for obs_id, packed in session.execute(select(PageRow.observation_id, BodyRow.body_gz)
                                              .join(BodyRow, BodyRow.sha256 == PageRow.body_sha256)
                                              .where(PageRow.observation_id.in_(chunk))):
            fetches, place = wanted[obs_id]
            fetches[place] = replace(fetches[place], body=gzip.decompress(packed))
    return out


def was_live(session: Session, domain: str) -> bool:
    """Has the domain ever been seen serving (active, redirecting or parked)?"""
    domain_id = _domain_id(session, domain)
    return bool(session.scalar(select(func.count()).select_from(StatusChangeRow).where(
        StatusChangeRow.domain_id == domain_id, StatusChangeRow.status.in_(LIVE_STATUSES))))


def live_domains(session: Session, domain_ids: Sequence[int]) -> set[int]:
    """Which of ``domain_ids`` were ever seen serving (:func:`was_live`), one query a chunk."""
    out: set[int] = set()
    for chunk in chunks(domain_ids):
        out.update(session.scalars(select(StatusChangeRow.domain_id).distinct().where(
            StatusChangeRow.domain_id.in_(chunk), StatusChangeRow.status.in_(LIVE_STATUSES))))
    return out


def latest_indicators(session: Session, domain: str, *, before: datetime | None = None) -> frozenset[Indicator]:
    """Indicators of the latest observation of each kind (dns, http crawl, rdap) of ``domain``; with
    ``before``, of the latest ones made before then (a seized site's last operator-run state). The crawl's
    are those of its fetches that stayed on the domain (a fetch redirected to another registered domain,
    ``off_site``, shows that site), of the latest crawl that has such a fetch."""
    domain_id = _domain_id(session, domain)
    obs_ids: list[int] = []
    for kind in ("dns", "rdap"):
        row = _latest(session, domain_id, kind, before)
        if row is not None and (kind != "dns" or row.rcode == "NOERROR"):
            obs_ids.append(row.id)
    last_http = _latest(session, domain_id, "http", before, own=True)
    if last_http is not None:
        query = select(ObservationRow.id).where(ObservationRow.domain_id == domain_id, ObservationRow.kind == "http",
                                                ObservationRow.off_site.is_(False))
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


def latest_indicators_of(session: Session, before: Mapping[int, datetime | None]) -> dict[int, frozenset[Indicator]]:
    """:func:`latest_indicators` of many domains by id, each with its own cut-off (domain id → moment;
    None: no cut), a few queries a chunk: domain id → its indicators, for those that have some."""
    owner: dict[int, int] = {}  # observation id → domain id
    for chunk in chunks(list(before), IN_CHUNK // 2):
        dns = _table(ObservationRow).alias()
        heads = (select(DomainRow.id, _newest("dns", before, chunk).label("dns"),
                        _newest("rdap", before, chunk).label("rdap"))
                 .where(DomainRow.id.in_(chunk)).subquery())
        for did, dns_id, rcode, rdap_id in session.execute(
                select(heads.c.id, heads.c.dns, dns.c.rcode, heads.c.rdap).outerjoin(dns, dns.c.id == heads.c.dns)):
            if dns_id is not None and rcode == "NOERROR":
                owner[dns_id] = did
            if rdap_id is not None:
                owner[rdap_id] = did
    owner.update((obs_id, did) for obs_id, did in _crawl_rows(session, before, ObservationRow.id,
                                                                  ObservationRow.domain_id, own=True))
    found: dict[int, set[Indicator]] = {}
    for chunk in chunks(list(owner)):
        rows = session.execute(select(IndicatorRow.observation_id, IndicatorRow.kind, IndicatorRow.value)
                               .where(IndicatorRow.observation_id.in_(chunk)))
        for obs_id, kind, value in rows:
            found.setdefault(owner[obs_id], set()).add(Indicator(kind, value))
    return {did: frozenset(values) for did, values in found.items()}


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
    it was seen as it was before the loss.

    A stamped DNS row keeps its first, last and last-but-one look: the answer is exact for a moment at
    which the domain's status changed (the next round starts a new row then, see record_dns_batch), and
    for any moment not inside a run of repeats; inside one it is the run's start or last-but-one look."""
    domain_id = _domain_id(session, domain)
    last = func.coalesce(ObservationRow.last_seen_at, ObservationRow.observed_at)
    seen = case((last < moment, last),
                (ObservationRow.prev_seen_at < moment, ObservationRow.prev_seen_at),
                else_=ObservationRow.observed_at)
    found = session.scalar(select(func.max(seen))
                           .where(ObservationRow.domain_id == domain_id, ObservationRow.observed_at < moment))
    if isinstance(found, str):  # SQLite hands back a CASE over datetimes as text
        found = datetime.fromisoformat(found)
    if isinstance(found, datetime):
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    return None


def last_observed_befores(session: Session, moments: Mapping[int, datetime]) -> dict[int, datetime]:
    """:func:`last_observed_before` of many domains by id, each with its own moment, one query a chunk:
    domain id → when it was last observed before its moment, for those observed before it."""
    out: dict[int, datetime] = {}
    for chunk in chunks(list(moments), IN_CHUNK // 2):
        moment = case({did: literal(moments[did], UtcDateTime()) for did in chunk}, value=ObservationRow.domain_id)
        rows = (select(ObservationRow.domain_id, ObservationRow.observed_at, ObservationRow.prev_seen_at,
                       func.coalesce(ObservationRow.last_seen_at, ObservationRow.observed_at).label("last"),
                       moment.label("moment"))
                .where(ObservationRow.domain_id.in_(chunk)).subquery())
        seen = case((rows.c.last < rows.c.moment, rows.c.last),
                    (rows.c.prev_seen_at < rows.c.moment, rows.c.prev_seen_at), else_=rows.c.observed_at)
        for did, found in session.execute(select(rows.c.domain_id, func.max(seen))
                                          .where(rows.c.observed_at < rows.c.moment).group_by(rows.c.domain_id)):
            if isinstance(found, str):  # SQLite hands back a CASE over datetimes as text
                found = datetime.fromisoformat(found)
            if isinstance(found, datetime):
                out[did] = found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    return out


def latest_page_signatures(session: Session) -> tuple[dict[str, bytes], dict[str, str]]:
    """(domain → MinHash, domain → TLSH) of the latest stored page of every domain that has each, in
    one pass: the store's crowd of page texts and page looks. A page fetched through a redirect to another
    registered domain (``off_site``) is that site's, not the redirecting domain's: left out."""
    rows = session.execute(select(DomainRow.name, PageRow.minhash, PageRow.tlsh)
                           .join(DomainRow, DomainRow.id == PageRow.domain_id)
                           .join(ObservationRow, ObservationRow.id == PageRow.observation_id)
                           .where(PageRow.minhash.is_not(None) | PageRow.tlsh.is_not(None),
                                  ObservationRow.off_site.is_(False))
                           .order_by(PageRow.observation_id).execution_options(yield_per=5000))
    texts: dict[str, bytes] = {}
    looks: dict[str, str] = {}
    for name, minhash, digest in rows:
        if minhash is not None:
            texts[name] = minhash
        if digest and digest != "TNULL":
            looks[name] = digest
    return texts, looks


def page_sketches(session: Session, *, after: int = 0) -> Iterable[tuple[str, int, bytes]]:
    """(domain, observation id, minhash) of every stored page with a sketch whose observation id is
    above ``after``, oldest first: feeds the LSH index (a later page of a domain replaces its earlier
    one there); ``after`` lets a refresh read only what was added since the last. A page fetched through a
    redirect to another registered domain (``off_site``) is left out: it is that site's page, and a domain
    that redirects to an outlet must not stand in the index as a near-copy of the outlet."""
    rows = session.execute(select(DomainRow.name, PageRow.observation_id, PageRow.minhash)
                           .join(DomainRow, DomainRow.id == PageRow.domain_id)
                           .join(ObservationRow, ObservationRow.id == PageRow.observation_id)
                           .where(PageRow.minhash.is_not(None), PageRow.observation_id > after,
                                  ObservationRow.off_site.is_(False))
                           .order_by(PageRow.observation_id)
                           .execution_options(yield_per=2000))
    for name, obs_id, minhash in rows:
        if minhash is not None:
            yield name, obs_id, minhash


def latest_page_sketch(session: Session, domain: str, *, before: datetime | None = None) -> PageSketch | None:
    """The sketch of the newest page of ``domain`` that has one (home pages come first in a crawl), not
    fetched through a redirect to another registered domain (``off_site``: that site's page)."""
    domain_id = _domain_id(session, domain)
    query = (select(PageRow.minhash, PageRow.tlsh, ObservationRow.title)
             .join(ObservationRow, ObservationRow.id == PageRow.observation_id)
             .where(PageRow.domain_id == domain_id, PageRow.minhash.is_not(None), ObservationRow.off_site.is_(False)))
    if before is not None:
        query = query.where(ObservationRow.observed_at < before)
    row = session.execute(query.order_by(ObservationRow.observed_at.desc(), PageRow.observation_id).limit(1)).first()
    if row is None:
        return None
    return PageSketch(title=row.title or "", minhash=row.minhash, tlsh=row.tlsh)


def latest_page_sketches(session: Session, before: Mapping[int, datetime | None]) -> dict[int, PageSketch]:
    """:func:`latest_page_sketch` of many domains by id, each with its own cut-off (domain id → moment;
    None: no cut), one query a chunk: domain id → its sketch, for those that have one."""
    out: dict[int, PageSketch] = {}
    for chunk in chunks(list(before), IN_CHUNK // 2):
        # a page's domain is its observation's: said in the join, it lets PostgreSQL reach the observation by
        # its domain's index rather than hash the whole table (3.1 s → 0.06 s at 1,000 sites)
        page, obs = _table(PageRow).alias(), _table(ObservationRow).alias()
        newest = (select(page.c.observation_id).join(obs, and_(obs.c.id == page.c.observation_id,
                                                               obs.c.domain_id == page.c.domain_id))
                  .where(page.c.domain_id == DomainRow.id, page.c.minhash.is_not(None), obs.c.off_site.is_(False),
                         _before(before, chunk, page.c.domain_id, obs.c.observed_at))
                  .order_by(obs.c.observed_at.desc(), page.c.observation_id).limit(1).correlate(DomainRow)
                  .scalar_subquery())
        # each domain's page first, then those pages by key: joined in one statement, PostgreSQL hashed the
        # whole pages table for every chunk once it held 10^5 sites (0.4 s a chunk of 250)
        owner = {page_id: did for did, page_id in session.execute(
            select(DomainRow.id, newest).where(DomainRow.id.in_(chunk))) if page_id is not None}
        out.update(_sketches(session, owner))
    return out


def _sketches(session: Session, owner: Mapping[int, int]) -> dict[int, PageSketch]:
    """The sketches of the pages ``owner`` names (page observation id → its domain id), by key."""
    out: dict[int, PageSketch] = {}
    for chunk in chunks(list(owner)):
        rows = session.execute(select(PageRow.observation_id, PageRow.minhash, PageRow.tlsh, ObservationRow.title)
                               .join(ObservationRow, ObservationRow.id == PageRow.observation_id)
                               .where(PageRow.observation_id.in_(chunk)))
        for page_id, minhash, tlsh, title in rows:
            out[owner[page_id]] = PageSketch(title=title or "", minhash=minhash, tlsh=tlsh)
    return out
