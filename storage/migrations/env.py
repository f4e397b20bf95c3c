"""Alembic environment: the connection is handed in by storage.migrate (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from storage.models import Base
from storage.partitions import include_name

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
