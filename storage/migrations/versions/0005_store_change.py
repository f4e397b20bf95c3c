"""a store that grows with change: DNS rows stamped when the answer repeats, page bodies once per SHA-256

observations gain last_seen_at / prev_seen_at / repeats (existing rows: last_seen_at = observed_at,
repeats 0, so every old row stays one look); pages lose body_gz for body_sha256 → bodies, and the
existing bodies move there, each distinct body kept once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_CHUNK = 500


def upgrade() -> None:
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', storage.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('prev_seen_at', storage.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('repeats', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE observations SET last_seen_at = observed_at")

    op.create_table('bodies',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('body_gz', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('first_seen', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_sha256', sa.String(length=64), nullable=True))
    _move_bodies()
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.alter_column('body_sha256', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_foreign_key('fk_pages_body_sha256_bodies', 'bodies', ['body_sha256'], ['sha256'])
        batch_op.drop_column('body_gz')


def _move_bodies() -> None:
    """Each page's body into ``bodies`` (the first copy of each distinct body is kept), in chunks."""
    conn = op.get_bind()
    pages = sa.table('pages', sa.column('observation_id', sa.BigInteger()), sa.column('body_gz', sa.LargeBinary()),
                     sa.column('body_sha256', sa.String()))
    observations = sa.table('observations', sa.column('id', sa.BigInteger()),
                            sa.column('observed_at', storage.models.UtcDateTime(timezone=True)))
    bodies = sa.table('bodies', sa.column('sha256', sa.String()), sa.column('body_gz', sa.LargeBinary()),
                      sa.column('size', sa.Integer()),
                      sa.column('first_seen', storage.models.UtcDateTime(timezone=True)))
    kept: set[str] = set()
    after = -1
    while True:
        rows = conn.execute(sa.select(pages.c.observation_id, pages.c.body_gz, observations.c.observed_at)
                            .join(observations, observations.c.id == pages.c.observation_id, isouter=True)
                            .where(pages.c.observation_id > after).order_by(pages.c.observation_id)
                            .limit(_CHUNK)).all()
        if not rows:
            return
        new_bodies = []
        links = []
        for obs_id, body_gz, seen in rows:
            body = gzip.decompress(body_gz)
            digest = hashlib.sha256(body).hexdigest()
            if digest not in kept:
                kept.add(digest)
                new_bodies.append({"sha256": digest, "body_gz": body_gz, "size": len(body),
                                   "first_seen": seen or datetime.now(UTC)})
            links.append({"oid": obs_id, "digest": digest})
        if new_bodies:
            conn.execute(bodies.insert(), new_bodies)
        conn.execute(pages.update().where(pages.c.observation_id == sa.bindparam("oid"))
                     .values(body_sha256=sa.bindparam("digest")), links)
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_gz', sa.LargeBinary(), nullable=True))
    op.execute("UPDATE pages SET body_gz = (SELECT b.body_gz FROM bodies b WHERE b.sha256 = pages.body_sha256)")
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.alter_column('body_gz', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_constraint('fk_pages_body_sha256_bodies', type_='foreignkey')
        batch_op.drop_column('body_sha256')
    op.drop_table('bodies')
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_column('repeats')
        batch_op.drop_column('prev_seen_at')
        batch_op.drop_column('last_seen_at')
