"""The screen every stream of strangers' names goes through before it reaches the hunt's resolver.

Newly-registered-domain feeds and zone-file differences both give names nobody derived from the
network: a few hundred thousand a day, nearly all unrelated. A name passes the screen when it is
lexically close to a network label (detect/lexical.py), or when it resolves onto the network's own
addresses or name servers. The infrastructure check costs DNS, so it is done in batches and capped at
``discovery.max_candidates`` names per source; the rest is counted, never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass

from crawler.dns import Prober
from detect.lexical import LabelIndex, nrd_lexical_match
from detect.model import Candidate, Indicator, Rcode
from scheduler.components import Components
from scheduler.hunt_resolve import BATCH

log = logging.getLogger(__name__)


@dataclass
class ScreenStats:
    """Counts for one source's pass through the screen (mutable on purpose: filled while streaming)."""

    read: int = 0            # names offered to the screen
    lexical: int = 0         # passed as lexically close to a network label
    infrastructure: int = 0  # passed as resolving onto the network's addresses or name servers
    checked: int = 0         # looked up for the infrastructure check
    beyond: int = 0          # past discovery.max_candidates: not looked up

    @property
    def passed(self) -> int:
        return self.lexical + self.infrastructure


class NameScreen:
    """The lexical and infrastructure filter, built once per hunt for the network's labels and hosts."""

    def __init__(self, prober: Prober, labels: Iterable[str], infrastructure: Iterable[Indicator], *,
                 cap: int, batch: int = BATCH) -> None:
        self.prober = prober
        self.index = LabelIndex(labels)
        infra = tuple(infrastructure)
        self.ips = frozenset(i.value for i in infra if i.kind == "ip")
        self.nss = frozenset(i.value for i in infra if i.kind == "ns")
        self.cap = cap
        self.batch = batch

    @classmethod
    def for_hunt(cls, parts: Components, labels: Iterable[str], infrastructure: Iterable[Indicator]) -> NameScreen:
        """The screen of one hunt: its prober, ``discovery.max_candidates`` as the cap."""
        return cls(parts.prober, labels, infrastructure, cap=parts.config.discovery.max_candidates)

    def lexical(self, name: str) -> str | None:
        """The network label ``name`` is lexically close to, or None (pure)."""
        return nrd_lexical_match(name, self.index)

    async def screen(self, names: AsyncIterable[str], *, source: str, via: str,
                     stats: ScreenStats | None = None) -> AsyncIterator[Candidate]:
        """The names that pass, as candidates of ``source`` ("nrd", "zone") found ``via`` (the feed or
        zone), in the order they pass. Memory: one DNS batch. An exception from ``names`` propagates
        after the names read before it have been screened (a source cut short still counts for what it gave)."""
        stats = stats if stats is not None else ScreenStats()
        batch: list[str] = []
        cut_short: Exception | None = None
        try:
            async for name in names:
                stats.read += 1
                label = self.lexical(name)
                if label is not None:
                    stats.lexical += 1
                    yield Candidate(name, source, f"{via} (lexical: {label})")
                elif not (self.ips or self.nss):
                    continue
                elif stats.checked < self.cap:
                    stats.checked += 1
                    batch.append(name)
                    if len(batch) >= self.batch:
                        async for c in self._on_infrastructure(batch, source, via, stats):
                            yield c
                        batch = []
                else:
                    stats.beyond += 1
        except Exception as exc:  # noqa: BLE001 - re-raised below, once the names already read are screened
            cut_short = exc
        async for c in self._on_infrastructure(batch, source, via, stats):
            yield c
        if stats.beyond:
            log.warning("%s %s: %d names over discovery.max_candidates not checked against the network's "
                        "infrastructure", source, via, stats.beyond)
        if cut_short is not None:
            raise cut_short

    async def _on_infrastructure(self, names: list[str], source: str, via: str,
                                 stats: ScreenStats) -> AsyncIterator[Candidate]:
        if not names:
            return
        async for res in self.prober.probe(names, types=("A", "NS")):
            shared = (set(res.get("A")) & self.ips) | (set(res.get("NS")) & self.nss)
            if res.rcode is Rcode.NOERROR and shared:
                stats.infrastructure += 1
                yield Candidate(res.name, source, f"{via} (infrastructure: {min(shared)})")
