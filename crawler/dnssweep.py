"""One sweep: names in, one DnsResult per name out, with at most ``concurrency`` queries in flight.

Per name the first record type is asked alone; NXDOMAIN or a failure there ends the name (one query
per dead name — most names of a lookalike sweep are dead). Otherwise the remaining types are asked
together. Names are pulled from the input only when there is room, so memory stays bounded whatever
the input's size; follow-up questions of started names go before new names.

With ``on_addresses`` a name's addresses are announced as soon as its A and AAAA answers are in (before
its other types), and AAAA follow-ups are sent before the other follow-ups: a crawl can start on a name
while the sweep still asks its NS, MX, SOA, TXT and CNAME. The questions asked and the results are the
same either way.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime

from crawler.dnsengine import Engine, Query
from crawler.dnswire import Question, Reply, WireError, normalise
from detect.model import DnsResult, Rcode

log = logging.getLogger(__name__)


ADDRESS_TYPES = ("A", "AAAA")


class _Job:
    __slots__ = ("addresses_left", "cnames", "errors", "name", "qname", "records", "waiting")

    def __init__(self, name: str, qname: bytes) -> None:
        self.name = name
        self.qname = qname
        self.records: dict[str, tuple[str, ...]] = {}
        self.cnames: list[str] = []
        self.errors: list[str] = []
        self.waiting = 0
        self.addresses_left = 0  # A/AAAA answers still awaited before on_addresses


class Sweep:
    """Drives names through an Engine. Input is a sync iterator (``source``) or a buffer filled by
    an async feeder (``buffer`` + ``input_done``); results go to ``on_result`` in completion order."""

    def __init__(self, engine: Engine, types: list[tuple[str, int]], on_result: Callable[[DnsResult], None],
                 *, observed_at: datetime | None = None, paused: Callable[[], bool] | None = None,
                 on_addresses: Callable[[str, tuple[str, ...]], None] | None = None) -> None:
        """``on_addresses(name, addresses)``: a name's A then AAAA records (in the answers' order), as soon
        as both types are answered, for names with at least one address; then its result as usual."""
        self.engine = engine
        self.types = types
        self.on_result = on_result
        self.on_addresses = on_addresses
        self._address_indices = (frozenset(i for i, (text, _) in enumerate(types) if text in ADDRESS_TYPES)
                                 if on_addresses is not None else frozenset())
        # follow-ups of the address types (AAAA) go before the others when addresses are announced early
        self.urgent: deque[Query] = deque()
        self.observed_at = observed_at
        self.paused = paused or (lambda: False)
        self.source: Iterator[str] | None = None
        self.buffer: deque[str] = deque()
        self.input_done = False
        self.on_buffer_space: Callable[[], None] | None = None
        self.on_finished: Callable[[], None] | None = None
        self.followups: deque[Query] = deque()
        self.active = 0
        self.finished = False
        self.error: BaseException | None = None
        self.started = 0

    # input --------------------------------------------------------------------------------
    def _next_name(self) -> str | None:
        if self.source is not None:
            try:
                return next(self.source)
            except StopIteration:
                self.source = None
                self.input_done = True
                return None
            except Exception as exc:  # noqa: BLE001 - the caller's iterator failed: stop, re-raise in the caller
                self.error = exc
                self.source = None
                self.input_done = True
                return None
        if self.buffer:
            name = self.buffer.popleft()
            if self.on_buffer_space is not None:
                self.on_buffer_space()
            return name
        return None

    def pump(self) -> None:
        """Fill free capacity: follow-up questions first, then new names."""
        if self.finished:
            return
        engine = self.engine
        while engine.room:
            if self.urgent:
                engine.send(self.urgent.popleft())
                continue
            if self.followups:
                engine.send(self.followups.popleft())
                continue
            if self.paused() or self.error is not None:
                break
            name = self._next_name()
            if name is None:
                break
            self._start(name)
        if self.input_done and self.active == 0 and not self.followups and not self.urgent and not self.buffer:
            self._finish_sweep()

    def cancel(self) -> None:
        self.input_done = True
        self.source = None
        self.buffer.clear()
        self.followups.clear()
        self.urgent.clear()
        self._finish_sweep()

    def _finish_sweep(self) -> None:
        if not self.finished:
            self.finished = True
            self.engine.owners.discard(self)
            if self.on_finished is not None:
                self.on_finished()

    # per name -----------------------------------------------------------------------------
    def _start(self, raw: str) -> None:
        self.started += 1
        try:
            name, qname = normalise(raw)
        except WireError as exc:
            self.on_result(DnsResult(raw.strip(), Rcode.ERROR, {}, str(exc), self.observed_at))
            return
        job = _Job(name, qname)
        self.active += 1
        job.waiting = 1
        job.addresses_left = len(self._address_indices)
        _text, rdtype = self.types[0]
        self.engine.send(Query(Question.make(qname, rdtype), self, (job, 0)))

    def outcome(self, query: Query, rcode: Rcode, reply: Reply | None, error: str) -> None:
        if self.finished:
            return  # cancelled sweep: late answers are dropped
        job, index = query.tag
        job.waiting -= 1
        rtype = self.types[index][0]
        if reply is not None and rcode is Rcode.NOERROR:
            job.records[rtype] = reply.records
            if reply.cname and reply.cname not in job.cnames:
                job.cnames.append(reply.cname)
        elif index == 0:
            self._done(job, rcode, f"{rtype}: {error}" if error else "")
            return
        elif rcode is not Rcode.NXDOMAIN:
            job.errors.append(f"{rtype}: {error or rcode.value}")
        if index == 0 and len(self.types) > 1:
            for i in range(1, len(self.types)):
                queue = self.urgent if i in self._address_indices else self.followups
                queue.append(Query(Question.make(job.qname, self.types[i][1]), self, (job, i)))
            job.waiting += len(self.types) - 1
        if index in self._address_indices:
            job.addresses_left -= 1
            if job.addresses_left == 0:
                self._announce(job)
        if job.waiting == 0:
            records = {text: job.records[text] for text, _ in self.types if text in job.records}
            if job.cnames:
                records["CNAME"] = tuple(dict.fromkeys((*records.get("CNAME", ()), *job.cnames)))
            rc = Rcode.NOERROR if any(records.values()) else Rcode.NOANSWER
            self._done(job, rc, "; ".join(job.errors), records)
        else:
            self.pump()

    def _announce(self, job: _Job) -> None:
        addresses = (*job.records.get("A", ()), *job.records.get("AAAA", ()))
        if addresses and self.on_addresses is not None:
            self.on_addresses(job.name, addresses)

    def _done(self, job: _Job, rcode: Rcode, error: str,
              records: dict[str, tuple[str, ...]] | None = None) -> None:
        self.active -= 1
        self.on_result(DnsResult(job.name, rcode, records or {}, error, self.observed_at))
        self.pump()
