"""ORM tables. History is the product: observations, indicators and status changes are kept.

A DNS observation is a row per distinct answer: a round that gets the same answer as the latest row
only stamps it (``last_seen_at``, ``prev_seen_at``, ``repeats``; storage/observations.py). Page bodies
are kept once per SHA-256 (``bodies``), whatever the number of pages that showed them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite's INTEGER PRIMARY KEY is the rowid; PostgreSQL gets a BIGINT identity.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass UTC-aware datetimes")

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class DomainRow(Base):
    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    campaign: Mapped[str] = mapped_column(String(100), default="", index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    origin: Mapped[str] = mapped_column(String(16), default="seed")  # seed | discovered
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="unknown", index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_since: Mapped[datetime | None] = mapped_column(default=None)
    last_probed: Mapped[datetime | None] = mapped_column(default=None)
    last_crawled: Mapped[datetime | None] = mapped_column(default=None)
    last_hunted: Mapped[datetime | None] = mapped_column(default=None)
    watched: Mapped[bool] = mapped_column(Boolean, default=True)


class ObservationRow(Base):
    """One look at a domain: kind dns | http | rdap. Key fields as columns, the raw answer as JSON."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_domain_kind_time", "domain_id", "kind", "observed_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    observed_at: Mapped[datetime]
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), default=None)
    error_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    # dns
    rcode: Mapped[str | None] = mapped_column(String(16), default=None)
    # http
    url: Mapped[str | None] = mapped_column(Text, default=None)
    final_url: Mapped[str | None] = mapped_column(Text, default=None)
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    title: Mapped[str | None] = mapped_column(Text, default=None)
    cert_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # the fetch ended, through redirects, on another registered domain (detect.names.elsewhere): its page and
    # indicators are that site's, so a site's profile (storage/profiles.py) never reads them
    off_site: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # rdap
    registrar: Mapped[str | None] = mapped_column(Text, default=None)
    registered_at: Mapped[datetime | None] = mapped_column(default=None)
    # everything as observed (records, headers, redirect chain, certificate, RDAP JSON …)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # when this answer was last seen and the time before that, and how many later looks saw it again
    # (DNS rows are stamped instead of repeated; other kinds keep last_seen_at = observed_at)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    prev_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class BodyRow(Base):
    """A page body (gzip), kept once however many pages showed it."""

    __tablename__ = "bodies"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)  # of the uncompressed body
    body_gz: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)  # uncompressed bytes
    first_seen: Mapped[datetime]


class PageRow(Base):
    """The page of an HTTP observation: its body (by SHA-256) and similarity sketches, for the LSH index."""

    __tablename__ = "pages"

    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    body_sha256: Mapped[str] = mapped_column(ForeignKey("bodies.sha256"))
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    tlsh: Mapped[str | None] = mapped_column(String(80), default=None)


class IndicatorRow(Base):
    __tablename__ = "indicators"
    __table_args__ = (
        UniqueConstraint("observation_id", "kind", "value", name="uq_indicator_obs_kind_value"),
        Index("ix_indicators_kind_value", "kind", "value"),
        Index("ix_indicators_domain", "domain_id", "kind"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(512))
    observed_at: Mapped[datetime]


class StatusChangeRow(Base):
    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_domain_time", "domain_id", "changed_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime]


class EdgeRow(Base):
    __tablename__ = "edges"
    __table_args__ = (UniqueConstraint("from_id", "to_id", "relation", name="uq_edge_from_to_relation"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    from_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    to_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    detected_at: Mapped[datetime]


class DeliveryState:
    """The columns every alert queue has: delivery state, attempts, the fixed Message-ID, timing."""

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxRow(DeliveryState, Base):
    """One alert per edge (unique), written in the edge's transaction; delivered at most once."""

    __tablename__ = "alert_outbox"

    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id", ondelete="CASCADE"), unique=True)


class TakedownAlertRow(DeliveryState, Base):
    """One alert per takedown of a watched domain (``[alerts] takedowns``), written with its status change."""

    __tablename__ = "takedown_outbox"

    status_change_id: Mapped[int] = mapped_column(ForeignKey("status_changes.id", ondelete="CASCADE"), unique=True)


class CandidateRow(Base):
    """A name discovery checked, with what was decided, so sweeps report only what changed."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    source: Mapped[str] = mapped_column(String(32))
    via: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[str] = mapped_column(String(253), default="")
    first_seen: Mapped[datetime]
    last_checked: Mapped[datetime]
    resolves: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    decision: Mapped[str] = mapped_column(String(32), default="")  # clone | rejected | deferred | unresolved
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    # digest of the A/AAAA/CNAME/NS answer when last observed (detect.answers.fingerprint): a rejected
    # candidate whose answer is unchanged is not crawled again until discovery.recheck_rejected_hours
    dns_fingerprint: Mapped[str] = mapped_column(String(64), default="", server_default="")


class CycleRow(Base):
    """One run of a job (cycle, probe round, crawl round, hunt): when, what it did, how it ended."""

    __tablename__ = "cycles"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|failed|interrupted|abandoned
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SourceStateRow(Base):
    """What hydrawatch remembers of one data source between sweeps (one row per source key): the
    validators of its last answer (conditional GET), the last day of a dated feed read, a cache (CT
    results per keyword)."""

    __tablename__ = "source_state"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    etag: Mapped[str] = mapped_column(Text, default="")
    last_modified: Mapped[str] = mapped_column(String(64), default="")
    last_date: Mapped[str] = mapped_column(String(10), default="")  # ISO date of the last dated file read
    cache: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class SweepPartRow(Base):
    """One finished part of a discovery sweep (a group of the network's labels whose lookalikes were
    generated and resolved): written once, in the transaction that records what the part found, so a
    part run twice (a retry, a stalled job queued again) records nothing twice."""

    __tablename__ = "sweep_parts"
    __table_args__ = (UniqueConstraint("sweep", "part", name="uq_sweep_parts_sweep_part"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    sweep: Mapped[int] = mapped_column(BigInteger)  # the cycle-log id of the job whose sweep this is
    part: Mapped[int] = mapped_column(Integer)
    generated: Mapped[int] = mapped_column(Integer, default=0)  # lookalike names generated (before de-duplication)
    wildcards: Mapped[list[Any]] = mapped_column(default=list)  # suffixes found answering every name
    worker: Mapped[str] = mapped_column(String(64), default="")  # host:pid of the process that ran it
    finished_at: Mapped[datetime]


class SweepFoundRow(Base):
    """A lookalike that resolved in one sweep part, with the discovery and the answer's fingerprint; the
    sweep's final step (observe and score) reads them back."""

    __tablename__ = "sweep_found"
    __table_args__ = (UniqueConstraint("sweep", "part", "name", name="uq_sweep_found_sweep_part_name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    sweep: Mapped[int] = mapped_column(BigInteger)
    part: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(253))
    source: Mapped[str] = mapped_column(String(32))
    via: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[str] = mapped_column(String(253), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")


class SweepSourceRow(Base):
    """One finished source of a discovery sweep (CT search, NRD feeds, zone files, CertStream, passive
    DNS: scheduler/sweep_sources.py): written once, in the transaction that records what the source
    found and advances its cursors, so a source run twice records nothing twice."""

    __tablename__ = "sweep_sources"
    __table_args__ = (UniqueConstraint("sweep", "source", name="uq_sweep_sources_sweep_source"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    sweep: Mapped[int] = mapped_column(BigInteger)  # the cycle-log id of the job whose sweep this is
    source: Mapped[str] = mapped_column(String(32))
    generated: Mapped[int] = mapped_column(Integer, default=0)  # candidates the source gave (before de-duplication)
    wildcards: Mapped[list[Any]] = mapped_column(default=list)  # suffixes found answering every name
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)  # source_errors, source_notes, truncated
    worker: Mapped[str] = mapped_column(String(64), default="")  # host:pid of the process that ran it
    finished_at: Mapped[datetime]


class SweepSourceFoundRow(Base):
    """A candidate of one sweep source that resolved, with the discovery and the answer's fingerprint;
    the sweep's final step reads them back."""

    __tablename__ = "sweep_source_found"
    __table_args__ = (UniqueConstraint("sweep", "source", "name", name="uq_sweep_source_found_sweep_source_name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    sweep: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(32))  # the sweep source that found it
    name: Mapped[str] = mapped_column(String(253))
    found_by: Mapped[str] = mapped_column(String(32))  # the candidate's own source ("ct" for CertStream's)
    via: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[str] = mapped_column(String(253), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
