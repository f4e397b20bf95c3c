"""What is remembered of each data source between sweeps: one row per source key (a feed's URL, a CT
keyword), read and written as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage.models import SourceStateRow


@dataclass(frozen=True)
class SourceStateValue:
    key: str
    etag: str = ""
    last_modified: str = ""
    last_date: str = ""
    cache: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


def load(session: Session, key: str) -> SourceStateValue | None:
    row = session.get(SourceStateRow, key)
    if row is None:
        return None
    return SourceStateValue(key=row.key, etag=row.etag, last_modified=row.last_modified, last_date=row.last_date,
                            cache=dict(row.cache or {}), updated_at=row.updated_at)


def save(session: Session, value: SourceStateValue, *, now: datetime) -> None:
    """Insert or replace the row of ``value.key`` (updated_at = ``now``)."""
    row = session.get(SourceStateRow, value.key)
    if row is None:
        row = SourceStateRow(key=value.key, updated_at=now)
        session.add(row)
    row.etag, row.last_modified, row.last_date = value.etag, value.last_modified, value.last_date
    row.cache, row.updated_at = dict(value.cache), now
