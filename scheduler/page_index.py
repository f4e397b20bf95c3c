"""The similarity index of stored pages, fed from the store incrementally: a refresh reads only the
pages whose observation id is above the last one it saw (issue 17: in cluster mode other workers crawl
between this worker's jobs; the embedded daemon refreshes the same way)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator

from detect.simindex import Key, SimilarityIndex
from storage import observations
from storage.store import Store

log = logging.getLogger(__name__)

# Observation ids are taken when a row is inserted, not when its transaction commits: a slower
# transaction of another worker can commit a lower id after a refresh read a higher one. Each refresh
# re-reads this many ids below its watermark; a page older than the one indexed for its domain is
# never put back (``_indexed``), so the overlap changes nothing but the work.
OVERLAP_IDS = 5_000


class PageIndex:
    """The latest page sketch of every stored domain (MinHash LSH), for "who serves this text?"."""

    def __init__(self) -> None:
        self.index = SimilarityIndex()
        self.watermark = 0  # the highest observation id read from the store
        self._indexed: dict[str, int] = {}  # domain -> observation id of the page in the index (0: added locally)

    @classmethod
    def from_store(cls, store: Store) -> PageIndex:
        """Every stored page, read once (a process's start)."""
        pages = cls()
        latest: dict[str, bytes] = {}
        with store.transaction() as session:
            for name, obs_id, minhash in observations.page_sketches(session):
                latest[name] = minhash
                pages._indexed[name] = obs_id
                pages.watermark = max(pages.watermark, obs_id)
        pages.index = SimilarityIndex.from_items(latest.items())
        return pages

    def refresh(self, store: Store) -> int:
        """Add the pages stored since the last refresh (by any process); how many were new."""
        added = 0
        with store.transaction() as session:
            for name, obs_id, minhash in observations.page_sketches(session, after=max(0, self.watermark - OVERLAP_IDS)):
                self.watermark = max(self.watermark, obs_id)
                if obs_id <= self._indexed.get(name, -1):
                    continue  # this page or a later one of the domain is in already
                self.index.add(name, minhash)
                self._indexed[name] = obs_id
                added += 1
        if added:
            log.debug("similarity index: %d page(s) added from the store (watermark %d)", added, self.watermark)
        return added

    def add(self, domain: str, minhash: bytes) -> None:
        """A page this process just stored (its crawl): in the index at once. Its observation id is not
        known here, so the next refresh puts the domain's newest stored page back in (the same one, unless
        another worker crawled the domain later)."""
        self.index.add(domain, minhash)
        self._indexed[domain] = 0

    def query(self, minhash: bytes, top: int = 10) -> list[tuple[Key, float]]:
        return self.index.query(minhash, top=top)

    def query_each(self, queries: Iterable[bytes], top: int = 10, *,
                   exclude: Collection[str] = ()) -> Iterator[list[tuple[Key, float]]]:
        """``query`` of each signature among the domains not in ``exclude`` (SimilarityIndex.query_each)."""
        return self.index.query_each(queries, top=top, exclude=exclude)

    def __len__(self) -> int:
        return len(self.index)
