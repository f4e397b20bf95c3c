"""Plain values the store hands out (ORM rows never leave storage/); statuses and relations as the
detect.model enums (str-valued: the stored and exported words are the enum values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detect.model import Evidence, Relation, Status


@dataclass(frozen=True)
class DomainInfo:
    name: str
    campaign: str
    origin: str
    status: Status
    status_reason: str
    status_since: datetime | None
    first_seen: datetime
    last_seen: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusChange:
    status: Status
    previous: Status | None
    reason: str
    since: datetime


@dataclass(frozen=True)
class EdgeInfo:
    id: int
    from_domain: str
    to_domain: str
    relation: Relation
    confidence: float
    evidence: tuple[Evidence, ...]
    detected_at: datetime


@dataclass(frozen=True)
class AddResult:
    added: tuple[str, ...]
    existing: tuple[str, ...]


@dataclass(frozen=True)
class ObservationInfo:
    id: int
    domain: str
    kind: str
    observed_at: datetime
    error_kind: str | None
    raw: dict[str, Any] = field(default_factory=dict)
