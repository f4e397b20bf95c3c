"""A sweep part or source job skips the watched domains among the names it meets (scheduler/hunt_resolve.py
``WatchedSkip``) by asking the store about those names a chunk at a time, not by reading the whole
watchlist: at 10⁵ watched domains and 5,000 parts, a sweep re-read it 5,000 times (bench/RESULTS.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from detect.model import Candidate
from scheduler.hunt_resolve import WatchedSkip
from storage import watchlist
from storage.store import Store

NOW = datetime(2024, 9, 4, tzinfo=UTC)


def _parts(store: Store, legitimate: Iterable[str]) -> Any:
    return SimpleNamespace(store=store, config=SimpleNamespace(brands=SimpleNamespace(legitimate=list(legitimate))))


def _candidates(count: int) -> list[Candidate]:
    return [Candidate(f"n{i}.example", "lookalike", "tld-swap", "seed.example") for i in range(count)]


def test_each_name_is_skipped_exactly_when_watched_or_legitimate(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WatchedSkip, "CHUNK", 7)  # many chunks, the last one short
    names = _candidates(40)
    with store.transaction() as session:
        watchlist.add_domains(session, [f"n{i}.example" for i in range(0, 40, 3)], campaign="c", origin="seed", now=NOW)
        watchlist.add_domains(session, ["n1.example", "n2.example"], campaign="c", origin="candidate", now=NOW,
                              watched=False)  # stored but not watched: asked about
    skip = WatchedSkip(_parts(store, ["n4.example"]))
    want = {f"n{i}.example" for i in range(0, 40, 3)} | {"n4.example"}

    # as resolve uses it: skip(name) asked for each candidate as the stream hands it over
    seen = [(c.domain, skip(c.domain)) for c in skip.stream(iter(names))]
    assert [name for name, _ in seen] == [c.domain for c in names]
    assert {name for name, skipped in seen if skipped} == want

    async def agen() -> AsyncIterator[Candidate]:
        for c in names:
            yield c

    async def consume() -> list[tuple[str, bool]]:
        return [(c.domain, skip(c.domain)) async for c in skip.astream(agen())]

    assert asyncio.run(consume()) == seen
    assert list(skip.stream(iter([]))) == []
