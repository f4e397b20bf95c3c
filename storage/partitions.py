"""PostgreSQL: the big history tables range-partitioned by month of their time column.

``observations`` and ``indicators`` are partitioned by ``observed_at`` (migration 0006 converts them,
on a fresh store and on an existing one, by copying the rows once). One partition a month, named
``<table>_pYYYYMM``, plus ``<table>_pdefault`` for a time no monthly partition covers (an archived page
from years ago). :func:`ensure` makes the partitions of the current and the next month; every job
calls it when it starts (scheduler.cycle), so a month's partition exists before its first row.

What partitioning costs (PostgreSQL only): the primary keys are (id, observed_at), the unique key of
an indicator is (observation_id, kind, value, observed_at), and pages and indicators no longer carry
a foreign key to observations (PostgreSQL cannot reference a partitioned table by id alone); they keep
theirs to domains, so deleting a domain still deletes all its rows. SQLite stays unpartitioned.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

PARTITIONED = ("observations", "indicators")
LOCK = "hydrawatch:partitions"  # advisory lock: two processes never create one partition at once
AHEAD = 1  # months made ahead of the current one


_PARTITION = re.compile(r"^(?:" + "|".join(PARTITIONED) + r")_p(?:\d{6}|default)$")


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Alembic's filter: a partition is part of its table, not a table the models lack."""
    return not (type_ == "table" and name is not None and _PARTITION.match(name))


def month_of(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def name_of(table: str, month: datetime) -> str:
    return f"{table}_p{month.year:04d}{month.month:02d}"


def is_partitioned(conn: Connection, table: str) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :t AND c.relnamespace = current_schema()::regnamespace"), {"t": table}).first())


def existing(conn: Connection, table: str) -> set[str]:
    """The partitions of ``table`` in the current schema."""
    return set(conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t "
        "AND p.relnamespace = current_schema()::regnamespace"), {"t": table}).scalars())


def create(conn: Connection, table: str, month: datetime) -> str:
    """The partition of ``table`` for ``month`` (idempotent); returns its name. Rows of that month already
    in the default partition (an archived page imported before the month's partition existed) move in."""
    name = name_of(table, month)
    bounds = f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
    default = f"{table}_pdefault"
    stray = conn.execute(text(f'SELECT 1 FROM "{default}" WHERE observed_at >= :a AND observed_at < :b LIMIT 1'),
                         {"a": month, "b": next_month(month)}).first() if default in existing(conn, table) else None
    if stray is None:
        conn.execute(text(f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" {bounds}'))
        return name
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)'))
    conn.execute(text(f'WITH moved AS (DELETE FROM "{default}" WHERE observed_at >= :a AND observed_at < :b '
                      f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'), {"a": month, "b": next_month(month)})
    conn.execute(text(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" {bounds}'))
    return name


def ensure(conn: Connection, now: datetime, *, ahead: int = AHEAD) -> list[str]:
    """Make the partitions of the month of ``now`` and the ``ahead`` next ones where missing; returns the
    names created. Nothing on SQLite or on an unpartitioned table."""
    if conn.dialect.name != "postgresql":
        return []
    months = [month_of(now)]
    for _ in range(ahead):
        months.append(next_month(months[-1]))
    made: list[str] = []
    for table in PARTITIONED:
        have = existing(conn, table)
        wanted = [m for m in months if name_of(table, m) not in have]
        if not wanted or not is_partitioned(conn, table):
            continue
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": LOCK})
        have = existing(conn, table)  # another process may have made them while we waited
        made.extend(create(conn, table, m) for m in wanted if name_of(table, m) not in have)
    return made
