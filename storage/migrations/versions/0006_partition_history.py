"""PostgreSQL: observations and indicators range-partitioned by month of observed_at (SQLite: nothing)

Each table is converted by one copy: the old table is renamed, a partitioned one with the same columns
(and the same id sequence) is created with a partition for every month its rows cover, the current
and the next month, and a default one; the rows are copied and the old table dropped. The primary
keys become (id, observed_at) and an indicator's unique key (observation_id, kind, value,
observed_at); the foreign keys of pages and indicators to observations are dropped (storage/partitions.py).
On a large store this copy takes a while and needs the space of the two tables once more: run
`hydrawatch init` in a maintenance window.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage import partitions

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# table → (indexes to make on the partitioned table, its unique constraints, its foreign keys)
_SHAPE = {
    'observations': (
        ['CREATE INDEX ix_observations_domain_kind_time ON observations (domain_id, kind, observed_at)'],
        [],
        ['FOREIGN KEY (domain_id) REFERENCES domains (id) ON DELETE CASCADE',
         'FOREIGN KEY (cycle_id) REFERENCES cycles (id)'],
    ),
    'indicators': (
        ['CREATE INDEX ix_indicators_kind_value ON indicators (kind, value)',
         'CREATE INDEX ix_indicators_domain ON indicators (domain_id, kind)'],
        ['CONSTRAINT uq_indicator_obs_kind_value UNIQUE (observation_id, kind, value, observed_at)'],
        ['FOREIGN KEY (domain_id) REFERENCES domains (id) ON DELETE CASCADE'],
    ),
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    inspector = sa.inspect(conn)
    for table in ('pages', 'indicators'):
        for fk in inspector.get_foreign_keys(table):
            if fk['referred_table'] == 'observations':
                op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{fk["name"]}"')
    for table in partitions.PARTITIONED:
        _convert(conn, table)


def _convert(conn: sa.Connection, table: str) -> None:
    old = f'{table}_unpartitioned'
    indexes, uniques, fks = _SHAPE[table]
    for index in sa.inspect(conn).get_indexes(table):
        if index.get('duplicates_constraint'):
            continue
        op.execute(f'DROP INDEX "{index["name"]}"')
    for unique in sa.inspect(conn).get_unique_constraints(table):
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{unique["name"]}"')
    op.execute(f'ALTER TABLE {table} RENAME TO {old}')
    op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey')
    columns = ', '.join(['LIKE ' + old + ' INCLUDING DEFAULTS', 'PRIMARY KEY (id, observed_at)', *uniques, *fks])
    op.execute(f'CREATE TABLE {table} ({columns}) PARTITION BY RANGE (observed_at)')
    sequence = conn.execute(sa.text('SELECT pg_get_serial_sequence(:t, :c)'), {'t': old, 'c': 'id'}).scalar()
    if sequence:
        op.execute(f'ALTER SEQUENCE {sequence} OWNED BY {table}.id')
    op.execute(f'CREATE TABLE {table}_pdefault PARTITION OF {table} DEFAULT')
    first, last = conn.execute(sa.text(f'SELECT min(observed_at), max(observed_at) FROM {old}')).one()
    now = datetime.now(UTC)
    month = partitions.month_of(first or now)
    end = partitions.next_month(partitions.month_of(max(last or now, now)))
    while month <= end:
        partitions.create(conn, table, month)
        month = partitions.next_month(month)
    for statement in indexes:
        op.execute(statement)
    op.execute(f'INSERT INTO {table} SELECT * FROM {old}')
    op.execute(f'DROP TABLE {old}')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        raise NotImplementedError('a partitioned store is not converted back; restore a dump made before 0006')
