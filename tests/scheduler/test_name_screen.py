"""The name screen shared by NRD feeds and zone-file differences, on its pure path (no infrastructure, so
no DNS): which names pass, how they are labelled, and that a source cut short keeps what it gave."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest

from crawler.dns import Prober
from crawler.sources import SourceError
from detect.model import Candidate, ErrorKind, Indicator
from scheduler.name_screen import NameScreen, ScreenStats

pytestmark = pytest.mark.fast

LABELS = ["quill-courier", "quill-gazette"]


def screen(infrastructure: Iterable[Indicator] = (), cap: int = 10) -> NameScreen:
    # A prober that is never asked: with no infrastructure the screen does no DNS.
    return NameScreen(Prober([("127.0.0.1", 9)]), LABELS, infrastructure, cap=cap)


async def names(items: Iterable[str], fail_after: int | None = None) -> AsyncIterator[str]:
    for i, name in enumerate(items):
        if fail_after is not None and i == fail_after:
            raise SourceError(ErrorKind.CONNECTION, "feed cut short")
        yield name


def run(items: Iterable[str], stats: ScreenStats, *, source: str = "zone", fail_after: int | None = None,
        ns: NameScreen | None = None) -> list[Candidate]:
    async def go() -> list[Candidate]:
        return [c async for c in (ns or screen()).screen(names(items, fail_after), source=source,
                                                          via="net zone", stats=stats)]
    return asyncio.run(go())


def test_lexically_close_names_pass_labelled_with_their_source_and_label() -> None:
    stats = ScreenStats()
    got = run(["quill-courier24.net", "weather.net", "quil-gazette.net", "bakery.net"], stats)
    assert got == [Candidate("quill-courier24.net", "zone", "net zone (lexical: quill-courier)"),
                   Candidate("quil-gazette.net", "zone", "net zone (lexical: quill-gazette)")]
    assert (stats.read, stats.lexical, stats.infrastructure, stats.passed) == (4, 2, 0, 2)


def test_without_infrastructure_nothing_is_looked_up_or_counted_as_beyond_the_cap() -> None:
    stats = ScreenStats()
    run([f"stranger{i}.net" for i in range(50)], stats, ns=screen(cap=3))
    assert (stats.read, stats.checked, stats.beyond, stats.passed) == (50, 0, 0, 0)


def test_a_source_cut_short_raises_after_the_names_it_gave_are_screened() -> None:
    stats = ScreenStats()
    got: list[Candidate] = []

    async def go() -> None:
        async for c in screen().screen(names(["quill-courier24.net", "x.net", "quill-gazette.info"], fail_after=2),
                                       source="nrd", via="feed", stats=stats):
            got.append(c)

    with pytest.raises(SourceError, match="cut short"):
        asyncio.run(go())
    assert [c.domain for c in got] == ["quill-courier24.net"]
    assert stats.read == 2
