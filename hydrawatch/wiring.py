"""Shell wiring: opens the configured store for a command, and the wall clock commands pass down."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from hydrawatch.config import Config
from storage import store as store_mod
from storage.store import Store


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def open_store(config: Config, *, check: bool = True) -> Iterator[Store]:
    """The store of ``config`` ([storage] url), schema checked unless ``check`` is False."""
    with store_mod.open_store(config.storage.url, check=check, busy_timeout=config.storage.busy_timeout) as store:
        yield store
