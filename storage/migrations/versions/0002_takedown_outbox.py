"""takedown alerts: one queued mail per takedown of a watched domain

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('takedown_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status_change_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['status_change_id'], ['status_changes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('status_change_id')
    )
    with op.batch_alter_table('takedown_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_takedown_outbox_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('takedown_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_takedown_outbox_state'))
    op.drop_table('takedown_outbox')
