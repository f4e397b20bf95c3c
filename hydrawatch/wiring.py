"""Builds the pieces a command needs from the validated Config (the only place that does)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hydrawatch.config import Config
from storage import db, migrate


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Store:
    """An open store: engine plus session factory. Close it when done."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def from_config(cls, config: Config) -> Store:
        engine = db.make_engine(config.storage.url)
        return cls(engine, db.session_factory(engine))

    def transaction(self) -> contextlib.AbstractContextManager[Session]:
        return db.transaction(self.sessions)

    def init(self) -> str:
        return migrate.upgrade(self.engine)

    def check_schema(self) -> None:
        """Fail with one line when the store was never initialised or is behind the code."""
        try:
            current = migrate.current_revision(self.engine)
        except SQLAlchemyError as exc:
            raise db.StoreError(db.describe(exc)) from None
        if current is None:
            raise db.StoreError("the store is not initialised: run `hydrawatch init`")
        if current != migrate.head_revision():
            raise db.StoreError(f"the store is at revision {current}, the code needs "
                                f"{migrate.head_revision()}: run `hydrawatch init`")

    def close(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def open_store(config: Config, *, check: bool = True) -> Iterator[Store]:
    store = Store.from_config(config)
    try:
        if check:
            store.check_schema()
        yield store
    finally:
        store.close()
