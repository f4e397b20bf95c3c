"""Create or upgrade the store's schema with Alembic (idempotent: `hydrawatch init`)."""

from __future__ import annotations

import importlib.resources
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:  # Alembic is imported by what migrates (~0.3 s): checking a store's revision needs none of it
    from alembic.config import Config as AlembicConfig

# The newest revision in storage/migrations/versions, which every command checks a store against;
# tests/storage/test_store.py keeps it equal to Alembic's head.
HEAD = "0009"
VERSION_TABLE = "alembic_version"  # Alembic's default, which storage/migrations/env.py keeps


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(importlib.resources.files("storage.migrations")))
    return cfg


def head_revision() -> str:
    """The head revision as Alembic computes it from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the store is at (None when never initialised), read from Alembic's version table."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        found = sorted(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    return ", ".join(found) or None


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the schema to ``revision``; returns the revision now in place."""
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine) or ""


def revisions() -> list[str]:
    """Every revision from the first to head, in order."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]
