"""The crawler's SourceMemory (crawler/sourcestate.py) kept in the store's ``source_state`` table."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from types import MappingProxyType

from crawler.sourcestate import SourceMemo
from storage import source_state
from storage.store import Store

MAX_KEY = 512


def _key(key: str) -> str:
    """Keys are URLs and keywords; one too long for the column keeps its start and a digest."""
    if len(key) <= MAX_KEY:
        return key
    return key[: MAX_KEY - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()


class StoreMemory:
    """recall/remember through one short transaction each; ``clock`` stamps ``updated_at``."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store, self.clock = store, clock

    def recall(self, key: str) -> SourceMemo | None:
        with self.store.transaction() as session:
            got = source_state.load(session, _key(key))
        if got is None:
            return None
        return SourceMemo(etag=got.etag, last_modified=got.last_modified, last_date=got.last_date,
                          cache=MappingProxyType(got.cache), updated_at=got.updated_at)

    def remember(self, key: str, memo: SourceMemo) -> None:
        now = memo.updated_at or self.clock()
        value = source_state.SourceStateValue(key=_key(key), etag=memo.etag, last_modified=memo.last_modified,
                                              last_date=memo.last_date, cache=dict(memo.cache))
        with self.store.transaction() as session:
            source_state.save(session, value, now=now)


class PendingMemory(StoreMemory):
    """A sweep source's memory: reads the store, but keeps what it is told to remember (a feed's newest
    date, its ETag, a CT keyword's answer) until the source's candidates are recorded; :meth:`pending`
    hands those to the transaction that records them (storage/sweep_sources.py), so a cursor never
    advances past candidates that were not kept."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(store, clock)
        self._pending: dict[str, SourceMemo] = {}

    def recall(self, key: str) -> SourceMemo | None:
        return self._pending.get(_key(key)) or super().recall(key)

    def remember(self, key: str, memo: SourceMemo) -> None:
        self._pending[_key(key)] = memo

    def pending(self) -> list[source_state.SourceStateValue]:
        return [source_state.SourceStateValue(key=key, etag=memo.etag, last_modified=memo.last_modified,
                                              last_date=memo.last_date, cache=dict(memo.cache),
                                              updated_at=memo.updated_at or self.clock())
                for key, memo in self._pending.items()]
