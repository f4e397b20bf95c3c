"""sweep_sources, sweep_source_found: a discovery sweep's other sources (CT search, NRD feeds, zone
files, CertStream, passive DNS; one job each in cluster mode) and the names each found, for the sweep's
final step

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sweep_sources',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sweep', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('generated', sa.Integer(), nullable=False),
    sa.Column('wildcards', sa.JSON(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('finished_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sweep', 'source', name='uq_sweep_sources_sweep_source')
    )
    op.create_table('sweep_source_found',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sweep', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('found_by', sa.String(length=32), nullable=False),
    sa.Column('via', sa.Text(), nullable=False),
    sa.Column('seed', sa.String(length=253), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sweep', 'source', 'name', name='uq_sweep_source_found_sweep_source_name')
    )


def downgrade() -> None:
    op.drop_table('sweep_source_found')
    op.drop_table('sweep_sources')
