"""An open store: the engine, its session factory and the schema check, built from a database URL.

The shell and the scheduler hold one of these; everything else in storage/ takes a Session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage import db, migrate, statistics


@dataclass
class Store:
    """Engine plus session factory. Close it when done."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def from_url(cls, url: str, *, busy_timeout: float = 30.0) -> Store:
        """A store on ``url`` (SQLite file or PostgreSQL); nothing is read or created until used.
        ``busy_timeout``: seconds a SQLite writer waits for another process's lock."""
        engine = db.make_engine(url, busy_timeout=busy_timeout)
        return cls(engine, db.session_factory(engine))

    def transaction(self) -> contextlib.AbstractContextManager[Session]:
        return db.transaction(self.sessions)

    def init(self) -> str:
        """Create or upgrade the schema (idempotent); returns the revision now current."""
        return migrate.upgrade(self.engine)

    def check_schema(self) -> None:
        """Fail with one line when the store was never initialised or is behind the code."""
        try:
            current = migrate.current_revision(self.engine)
        except SQLAlchemyError as exc:
            raise db.StoreError(db.describe(exc)) from None
        if current is None:
            raise db.StoreError("the store is not initialised: run `hydrawatch init`")
        if current != migrate.HEAD:
            raise db.StoreError(f"the store is at revision {current}, the code needs "
                                f"{migrate.HEAD}: run `hydrawatch init`")

    def refresh_statistics(self) -> list[str]:
        """PostgreSQL: ANALYZE the tables changed much since their last statistics (storage/statistics.py);
        the tables analyzed. A failure is logged, never raised: stale statistics slow reads, nothing more."""
        try:
            return statistics.refresh(self.engine)
        except SQLAlchemyError as exc:
            statistics.log.warning("store: statistics not refreshed (%s)", db.describe(exc))
            return []

    def close(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def open_store(url: str, *, check: bool = True, busy_timeout: float = 30.0) -> Iterator[Store]:
    """The store on ``url``, its schema checked (unless ``check`` is False), closed on exit."""
    store = Store.from_url(url, busy_timeout=busy_timeout)
    try:
        if check:
            store.check_schema()
        yield store
    finally:
        store.close()
