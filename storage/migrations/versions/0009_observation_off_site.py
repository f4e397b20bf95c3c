"""observations.off_site: an HTTP fetch that ended, through redirects, on another registered domain

A site's profile (storage/profiles.py) never reads such a fetch's page or indicators: they are the
redirect target's. Existing rows are marked from their final_url (detect.names.elsewhere, the bundled
suffix list, nothing fetched), a chunk of rows at a time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from detect.names import elsewhere
from storage.inlist import chunks

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_CHUNK = 2000


def upgrade() -> None:
    # a plain ADD COLUMN on both databases: SQLite's batch mode would copy the table to add a column with this
    # default, and dropping the old copy cascades to every page and indicator (ON DELETE CASCADE)
    op.add_column('observations', sa.Column('off_site', sa.Boolean(), server_default=sa.false(), nullable=False))
    _mark_existing()


def _mark_existing() -> None:
    """Mark the HTTP rows already stored whose final URL is on another registered domain than their site's."""
    conn = op.get_bind()
    observations = sa.table('observations', sa.column('id', sa.BigInteger()), sa.column('domain_id', sa.BigInteger()),
                            sa.column('kind', sa.String()), sa.column('final_url', sa.Text()),
                            sa.column('off_site', sa.Boolean()))
    domains = sa.table('domains', sa.column('id', sa.BigInteger()), sa.column('name', sa.String()))
    after = -1
    while True:
        rows = conn.execute(sa.select(observations.c.id, observations.c.final_url, domains.c.name)
                            .join(domains, domains.c.id == observations.c.domain_id)
                            .where(observations.c.id > after, observations.c.kind == 'http',
                                   observations.c.final_url.is_not(None))
                            .order_by(observations.c.id).limit(_CHUNK)).all()
        if not rows:
            return
        after = rows[-1].id
        marked = [obs_id for obs_id, final_url, name in rows if elsewhere(name, final_url or '')]
        for chunk in chunks(marked):
            conn.execute(observations.update().where(observations.c.id.in_(chunk)).values(off_site=True))


def downgrade() -> None:
    op.execute('ALTER TABLE observations DROP COLUMN off_site')  # not a batch copy either (SQLite 3.35+)
