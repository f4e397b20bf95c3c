"""sweep_parts, sweep_found: a discovery sweep's parts (label groups whose lookalikes are generated and
resolved, one job each in cluster mode) and the names each found, for the sweep's final step

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sweep_parts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sweep', sa.BigInteger(), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('generated', sa.Integer(), nullable=False),
    sa.Column('wildcards', sa.JSON(), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('finished_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sweep', 'part', name='uq_sweep_parts_sweep_part')
    )
    op.create_table('sweep_found',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sweep', sa.BigInteger(), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('via', sa.Text(), nullable=False),
    sa.Column('seed', sa.String(length=253), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sweep', 'part', 'name', name='uq_sweep_found_sweep_part_name')
    )


def downgrade() -> None:
    op.drop_table('sweep_found')
    op.drop_table('sweep_parts')
