"""PostgreSQL: the planner's statistics of the store's tables kept current by the store itself.

Every batched read of the store (a chunk of domains' latest answers, pages, indicators) is planned from
the tables' statistics. A table whose rows changed much since its last ANALYZE is planned on stale or
absent figures: after a first round of 10^5 domains had written 2·10^6 indicator rows, a chunk of 500
observations' indicators was read by scanning the whole month partition (the planner expected a seventh
of it to match), and a hunt's reading of its 10^5-site network took minutes where it takes seconds.
Autovacuum normally keeps the statistics current, but it may be switched off (this benchmark machine's
server has ``autovacuum = off``) or lag behind a bulk round. So every job, as it starts, analyzes the
tables of the store's schema whose changes since their last ANALYZE pass autovacuum's own default
trigger (50 rows + 10 % of the table, ``autovacuum_analyze_threshold`` / ``_scale_factor``): where
autovacuum keeps up this finds nothing to do. One process at a time (an advisory lock; the others skip:
the statistics are shared), each table in a short transaction of its own (ANALYZE samples 30,000 rows a
table by default: well under a second at 10^6 rows). A role that does not own the tables gets a warning
from PostgreSQL and no error. Nothing on SQLite (its planner needs no statistics for these reads).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

LOCK = "hydrawatch:analyze"
THRESHOLD = 50  # autovacuum_analyze_threshold's default
SCALE = 0.1  # autovacuum_analyze_scale_factor's default

STALE = text(
    "SELECT s.relid::regclass::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.relname <> 'alembic_version' "
    "AND s.n_mod_since_analyze > :threshold + :scale * greatest(s.n_live_tup, c.reltuples, 0) "
    "ORDER BY s.n_mod_since_analyze DESC")
PARENTS = text(
    "SELECT i.inhrelid::regclass::text, i.inhparent::regclass::text FROM pg_inherits i "
    "WHERE i.inhrelid = ANY(CAST(:leaves AS regclass[]))")


def refresh(engine: Engine) -> list[str]:
    """ANALYZE the store's tables whose statistics are stale, a stale partition through its partitioned
    parent (which samples the whole table for the planner's figures of it and recurses into every
    partition: analyzing the partition too would do it twice); the names analyzed (empty: nothing stale,
    another process at it, or SQLite)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k || ':' || current_schema()))"),
                            {"k": LOCK}).scalar_one():
            conn.rollback()
            return []
        try:
            stale = list(conn.execute(STALE, {"threshold": THRESHOLD, "scale": SCALE}).scalars())
            parent: dict[str, str] = ({leaf: up for leaf, up in conn.execute(PARENTS, {"leaves": stale})}
                                      if stale else {})
            tables = list(dict.fromkeys(parent.get(t, t) for t in stale))
            conn.commit()
            for table in tables:  # names from the catalogue, quoted by regclass::text
                conn.execute(text(f"ANALYZE {table}"))
                conn.commit()
        finally:  # after a failed ANALYZE too: its transaction rolled back first, then the lock let go
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k || ':' || current_schema()))"), {"k": LOCK})
            conn.commit()
    if tables:
        log.info("store: statistics refreshed for %d table(s) changed much since their last ANALYZE (%s)",
                 len(tables), ", ".join(tables)[:300])
    return tables
