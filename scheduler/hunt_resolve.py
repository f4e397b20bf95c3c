"""Resolve a stream of candidates in bounded batches and keep only the names that really resolve.

Candidates are pulled lazily, ``BATCH`` distinct names at a time, and probed through the fast prober;
memory holds one batch plus the names that resolve, whatever the number generated. A suffix with
wildcard DNS (every name resolves, to a parking page) is found by asking two nonsense names under it,
once per hunt; a candidate under it counts only if its answer differs from the wildcard's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass

from detect import answers
from detect.answers import FINGERPRINT_TYPES, Wildcard
from detect.hunt_order import better
from detect.model import Candidate, DnsResult
from detect.names import InvalidDomain, split
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from scheduler.progress import stage
from storage import watchlist

log = logging.getLogger(__name__)

BATCH = 25_000
"""Distinct names resolved together (one prober sweep); bounds the hunt's memory."""
YIELD_EVERY = 2000


@dataclass(frozen=True)
class Resolved:
    """A candidate that resolves, with the fingerprint of its answer (detect.answers.fingerprint)."""

    candidate: Candidate
    fingerprint: str


class Wildcards:
    """Per-hunt cache of each suffix's wildcard answer, probed on first need."""

    def __init__(self, parts: Components, salt: str) -> None:
        self._parts = parts
        self._salt = salt
        self._known: dict[str, Wildcard] = {}

    @property
    def active(self) -> list[str]:
        return sorted(s for s, w in self._known.items() if w.active)

    async def learn(self, suffixes: Iterable[str]) -> None:
        wanted = sorted(set(suffixes) - set(self._known))
        if not wanted:
            return
        probes = {name: suffix for suffix in wanted for name in answers.nonsense_labels(suffix, self._salt)}
        found: dict[str, list[DnsResult]] = {s: [] for s in wanted}
        async for res in self._parts.prober.probe(list(probes), types=("A", "AAAA", "CNAME")):
            if res.name in probes:
                found[probes[res.name]].append(res)
        for suffix in wanted:
            self._known[suffix] = wildcard = answers.wildcard_of(suffix, found[suffix])
            if wildcard.active:
                log.warning("hunt: .%s answers every name (wildcard DNS %s); its candidates must answer "
                            "otherwise", suffix, ", ".join(sorted(wildcard.values)))

    def hides(self, suffix: str, result: DnsResult) -> bool:
        return self._known[suffix].hides(result)


class WatchedSkip:
    """``skip`` for :func:`resolve` over a stream of candidates: the watched domains (asked of the store a
    chunk of the stream at a time, :meth:`stream`) and ``[brands] legitimate``. A sweep part or source job
    read the whole watchlist before; at 10⁵ domains and 5,000 parts a sweep that was 5·10⁸ rows read.
    Valid only for names of the chunk being streamed: resolve asks about each candidate as it meets it."""

    CHUNK = 5_000

    def __init__(self, parts: Components) -> None:
        self.parts = parts
        self.legitimate = frozenset(parts.config.brands.legitimate)
        self.watched: set[str] = set()

    def __call__(self, name: str) -> bool:
        return name in self.watched or name in self.legitimate

    def _look_up(self, chunk: list[Candidate]) -> None:
        with self.parts.store.transaction() as session:
            self.watched = watchlist.watched_among(session, (c.domain for c in chunk))

    def stream(self, candidates: Iterable[Candidate]) -> Iterator[Candidate]:
        chunk: list[Candidate] = []
        for c in candidates:
            chunk.append(c)
            if len(chunk) >= self.CHUNK:
                self._look_up(chunk)
                yield from chunk
                chunk = []
        self._look_up(chunk)
        yield from chunk

    async def astream(self, candidates: AsyncIterable[Candidate]) -> AsyncIterator[Candidate]:
        chunk: list[Candidate] = []
        async for c in candidates:
            chunk.append(c)
            if len(chunk) >= self.CHUNK:
                self._look_up(chunk)
                for kept in chunk:
                    yield kept
                chunk = []
        self._look_up(chunk)
        for kept in chunk:
            yield kept


async def resolve(parts: Components, candidates: Iterable[Candidate] | AsyncIterable[Candidate], *,
                  skip: Callable[[str], bool], wildcards: Wildcards, report: HuntReport,
                  into: dict[str, Resolved]) -> None:
    """Resolve ``candidates`` batch by batch; each that resolves (and is no wildcard's echo) goes ``into``
    the dict by name, the higher-priority discovery winning. ``skip(name)``: names not to ask about."""
    batch: dict[str, Candidate] = {}

    async def flush() -> None:
        if batch:
            await _resolve_batch(parts, batch, wildcards, report, into)
            batch.clear()

    if isinstance(candidates, AsyncIterable):
        async for c in candidates:
            report.generated += 1
            _add(batch, into, c, skip)
            if len(batch) >= BATCH:
                await flush()
    else:
        for i, c in enumerate(candidates):
            report.generated += 1
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                # Generating lookalikes is seconds of CPU: let the loop breathe (signals, the alert job,
                # Scrapy) and let a stopping daemon cancel the hunt here.
                await asyncio.sleep(0)
            _add(batch, into, c, skip)
            if len(batch) >= BATCH:
                await flush()
    await flush()


def join_recorded(into: dict[str, Resolved], found: Iterable[Resolved], skip: Callable[[str], bool],
                  report: HuntReport) -> None:
    """Names a part or source resolved elsewhere and recorded join ``into`` as this process resolving them
    in ``found``'s order would have added them: a name met already is only merged (the better discovery
    wins, its first answer stays), a skipped one dropped, a new one counted in ``report.resolved``."""
    for r in found:
        name = r.candidate.domain
        if name in into:
            into[name] = Resolved(better(into[name].candidate, r.candidate), into[name].fingerprint)
        elif not skip(name):
            into[name] = r
            report.resolved += 1


def _add(batch: dict[str, Candidate], into: dict[str, Resolved], c: Candidate, skip: Callable[[str], bool]) -> None:
    name = c.domain
    if name in into:  # resolved already (another source, an earlier batch): keep the better discovery
        into[name] = Resolved(better(into[name].candidate, c), into[name].fingerprint)
    elif name in batch:
        batch[name] = better(batch[name], c)
    elif not skip(name):
        batch[name] = c


async def _resolve_batch(parts: Components, batch: dict[str, Candidate], wildcards: Wildcards,
                         report: HuntReport, into: dict[str, Resolved]) -> None:
    live: list[tuple[str, DnsResult]] = []
    with stage(parts.progress, "candidates: resolve", len(batch)) as step:
        async for res in parts.prober.probe(list(batch), types=FINGERPRINT_TYPES):
            step.advance()
            if res.resolves and res.name in batch:
                try:
                    live.append((split(res.name).suffix, res))
                except InvalidDomain:
                    continue
    await wildcards.learn(suffix for suffix, _ in live)
    for suffix, res in live:
        if wildcards.hides(suffix, res):
            continue
        into[res.name] = Resolved(batch[res.name], answers.fingerprint(res))
        report.resolved += 1
