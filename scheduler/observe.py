"""Observe a set of domains: DNS probe, crawl, RDAP, fingerprint, classify, record — one job's work.

DNS answers are written DNS_BATCH domains a transaction (storage.observations.record_dns_batch: a
repeated answer only stamps the latest row); crawled sites HTTP_BATCH a transaction, as their crawls end
(storage.observations.record_http_batch, Core inserts, in a writer thread one batch after the other); RDAP
records RDAP_BATCH domains a transaction (storage.observations.record_rdap_batch: a registration seen again
only stamps the latest row). An interrupted round keeps every transaction committed before the interruption.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from crawler.fetch import SiteCrawl
from detect import fingerprints
from detect.classify import classify, site_answered
from detect.model import DnsResult, HttpFetch, Indicator, RdapRecord, Status
from detect.names import elsewhere
from detect.page_parse import ParsedPage, parse
from detect.page_signals import banner_picture_key, takedown_page_key
from scheduler.components import Components
from scheduler.deliver import new_message_id
from scheduler.progress import ProgressSink, stage
from storage import observations, outbox, watchlist
from storage.models import DomainRow
from storage.observations import DnsWrite, HttpWrite, PageSketch, RdapWrite
from storage.values import StatusChange

log = logging.getLogger(__name__)

DNS_BATCH = 500  # domains whose answers are written in one transaction
RDAP_BATCH = 500  # domains whose registration lookups are written in one transaction
HTTP_BATCH = 50  # crawled sites written in one transaction …
HTTP_BATCH_SECONDS = 2.0  # … or fewer, when the first of them has waited this long
CLASSIFY_BATCH = 100  # domains classified (and their status changes recorded) in one transaction
# characters of page parses (title, text, markup skeleton, inline code) a round keeps for classification; a
# page worker's parse of a long page is only what classification reads (detect.page_signals.classification_view)
PARSED_KEEP_CHARS = 32_000_000


def site_sketch(writes: Sequence[HttpWrite]) -> bytes | None:
    """The MinHash that stands for a crawled site in the similarity index: its first page with one (the home
    page comes first), never a page fetched through a redirect to another registered domain (that site's
    page, kept out of the store's readers as ``off_site``)."""
    return next((w.sketch.minhash for w in writes
                 if w.sketch.minhash is not None and elsewhere(w.fetch.domain, w.fetch.final_url) is None), None)


@dataclass
class ObserveReport:
    probed: int = 0
    crawled: int = 0
    rdap: int = 0
    changes: list[tuple[str, StatusChange]] = field(default_factory=list)
    # registry lookups made by other processes for this round (cluster batches), added to this
    # process's own RdapClient counts in the cycle log
    registry: dict[str, int] = field(default_factory=dict)

    def merge(self, other: ObserveReport) -> None:
        """Add a batch's report to the round's."""
        self.probed += other.probed
        self.crawled += other.crawled
        self.rdap += other.rdap
        self.changes.extend(other.changes)
        for key, count in other.registry.items():
            self.registry[key] = self.registry.get(key, 0) + count

    @property
    def lost(self) -> list[str]:
        """Domains that turned seized, suspended or dead in this round (the hunt trigger)."""
        return [d for d, c in self.changes if is_loss(c)]


@dataclass
class Replay:
    """A job run again at its killed first attempt's ``now`` (cluster mode: a resumed stage job, a retried
    batch): the status changes recorded at that ``now`` are reported again, once per domain, and not
    recorded twice (:func:`replaying`)."""

    now: datetime
    done: set[str] = field(default_factory=set)


_REPLAY: ContextVar[Replay | None] = ContextVar("hydrawatch_replay", default=None)


@contextmanager
def replaying(now: datetime) -> Iterator[Replay]:
    """Within: a domain whose status was changed at ``now`` (by an earlier attempt of this job) is reported
    as changed from what it was before ``now``, the first time it is classified at ``now`` — its loss
    then reaches the report and the job's loss sink as in an attempt never killed (the sink finds the
    hunt that attempt queued, scheduler/cluster.py ``queue_hunt``); nothing is written again and no
    takedown mail is queued again. Outside (every first attempt, the embedded process): a status
    unchanged is no change, whatever its time."""
    replay = Replay(now)
    token = _REPLAY.set(replay)
    try:
        yield replay
    finally:
        _REPLAY.reset(token)


def is_loss(change: StatusChange) -> bool:
    """Seized, suspended or dead after being none of these: what triggers a hunt."""
    return Status(change.status).lost and (change.previous is None or not Status(change.previous).lost)


def _dns_changed(old: DnsResult | None, new: DnsResult) -> bool:
    """Did the name's DNS picture change (RDAP is asked again then)? ``old``: its last conclusive answer.
    A timeout or an error is no news about the name: a resolver falling behind must not send every name it
    dropped to the RDAP servers (each asked one call at a time across a cluster), twice (timeout, then back)."""
    if not new.rcode.conclusive:
        return False
    if old is None or old.rcode != new.rcode:
        return True
    return set(old.get("NS")) != set(new.get("NS")) or set(old.get("A")) != set(new.get("A"))


def http_indicators_of(fetch: HttpFetch) -> tuple[tuple[Indicator, ...], PageSketch]:
    """Indicators and sketch of one fetch (page, headers, certificate, outlinks as `outlink`)."""
    return _stored(fingerprints.fetch_print(fetch))


def _stored(found: fingerprints.FetchPrint) -> tuple[tuple[Indicator, ...], PageSketch]:
    return found.indicators, PageSketch(title=found.title, minhash=found.minhash, tlsh=found.tlsh)


def _parse_chars(page: ParsedPage) -> int:
    """What a kept parse weighs: the characters of its strings (its tuples are small beside them)."""
    return len(page.title) + len(page.text) + len(page.skeleton) + len(page.code)


def _threaded_writes(parts: Components) -> bool:
    """May the crawl's write batches run in a thread? Not on an in-memory SQLite store (each thread would
    see a database of its own)."""
    url = parts.store.engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


class _SiteRecorder:
    """Fingerprints each site as its crawl ends, so this CPU work overlaps the network waits of the sites
    still being crawled, and records the sites HTTP_BATCH at a time (or every HTTP_BATCH_SECONDS): one
    transaction of Core inserts per batch, committed in a writer thread while the crawl goes on;
    :meth:`finish` writes the rest and waits for them. The first failure (a store error) stops the
    recording and is raised once the crawl is over; the batches committed before it stay recorded."""

    def __init__(self, parts: Components, now: datetime, cycle_id: int | None, report: ObserveReport) -> None:
        self.parts = parts
        self.now = now
        self.cycle_id = cycle_id
        self.report = report
        self.done: set[str] = set()
        self.failure: BaseException | None = None
        self.pending: list[tuple[str, list[HttpWrite]]] = []
        self.pending_since = 0.0
        # The parsed pages of this round's crawl, for classification (bounded by their sizes in characters;
        # past the bound classification parses again): (body, content type) → ParsedPage.
        self.parsed: dict[tuple[bytes, str], ParsedPage] = {}
        self.parsed_chars = 0
        self.writing: asyncio.Future[None] | None = None  # the last batch handed to the writer thread
        self.held = False  # batches wait (hold/release) until the round's DNS answers are handed over

    def __call__(self, site: SiteCrawl) -> None:
        try:
            self.record(site)
        except Exception as exc:  # noqa: BLE001 - raised by raise_failure() after the crawl
            self.failure = self.failure or exc

    def record(self, site: SiteCrawl) -> None:
        if self.failure is not None:
            return
        self.done.add(site.domain)
        writes = []
        # the crawl's page workers fingerprinted the site already (a big crawl), or it is done here
        prints = site.prints or (None,) * len(site.fetches)
        packs = site.packed or (None,) * len(site.fetches)
        for fetch, found, packed in zip(site.fetches, prints, packs):
            if found is None:
                found = fingerprints.fetch_print(fetch)
            inds, sketch = _stored(found)
            writes.append(HttpWrite(fetch, inds, sketch, packed))
            self.keep_parsed(fetch, found.parsed)
        if not self.pending:
            self.pending_since = time.monotonic()
        self.pending.append((site.domain, writes))
        if len(self.pending) >= HTTP_BATCH or time.monotonic() - self.pending_since >= HTTP_BATCH_SECONDS:
            self.flush()

    def keep_parsed(self, fetch: HttpFetch, page: ParsedPage | None = None) -> None:
        """Keep the parse of ``fetch``'s page (``page``, made by a page worker, or the one its fingerprint
        just made here: parse() remembers it) for classification, while the kept parses stay under
        PARSED_KEEP_CHARS (past it classification parses again: the same page)."""
        if not fetch.body or self.parsed_chars >= PARSED_KEEP_CHARS:
            return
        key = (fetch.body, fetch.header("content-type"))
        if key in self.parsed:
            return
        try:
            page = page if page is not None else parse(*key)
        except Exception:  # noqa: BLE001 - classification parses (defensively) on its own
            return
        charge = _parse_chars(page)
        if self.parsed_chars + charge <= PARSED_KEEP_CHARS:
            self.parsed[key] = page
            self.parsed_chars += charge

    def parsed_page(self, fetch: HttpFetch) -> ParsedPage | None:
        return self.parsed.get((fetch.body, fetch.header("content-type"))) if fetch.body else None

    def flush(self) -> None:
        """Write the sites waiting, in one transaction, after the batches handed over before; the similarity
        index learns them once committed. The transaction runs in a thread of its own (one batch at a
        time, in order) so its round trips do not stall the crawl's loop, except on an in-memory SQLite
        store (one connection per thread there), where it runs here."""
        if self.failure is not None or not self.pending or self.held:
            return
        batch, self.pending = self.pending, []
        if not _threaded_writes(self.parts):
            self._commit(batch)
            self._committed(batch)
            return
        self.writing = asyncio.ensure_future(self._write(lambda: self._commit(batch), self.writing,
                                                         lambda: self._committed(batch)))

    def hold(self) -> None:
        """Keep the crawled sites waiting (not written) until :meth:`release`."""
        self.held = True

    def release(self, write_first: Callable[[], None]) -> None:
        """Write with ``write_first`` (its own transactions; the round's DNS answers), then the sites that
        waited, HTTP_BATCH a transaction, in order, and from now on as usual."""
        self.held = False
        if self.failure is not None:
            return
        if not _threaded_writes(self.parts):
            try:
                write_first()
            except Exception as exc:  # noqa: BLE001 - raised by raise_failure() after the crawl
                self.failure = self.failure or exc
                return
        else:
            self.writing = asyncio.ensure_future(self._write(write_first, self.writing))
        waiting, self.pending = self.pending, []
        for start in range(0, len(waiting), HTTP_BATCH):
            self.pending = waiting[start:start + HTTP_BATCH]
            self.pending_since = time.monotonic()
            if len(self.pending) == HTTP_BATCH:
                self.flush()

    async def _write(self, commit: Callable[[], None], before: asyncio.Future[None] | None,
                     committed: Callable[[], None] | None = None) -> None:
        if before is not None:
            await before  # never raises: a failure is kept in self.failure
        if self.failure is not None:
            return
        try:
            await asyncio.to_thread(commit)
        except Exception as exc:  # noqa: BLE001 - raised by raise_failure() after the crawl
            self.failure = self.failure or exc
            return
        if committed is not None:
            committed()

    def _commit(self, batch: list[tuple[str, list[HttpWrite]]]) -> None:
        with self.parts.store.transaction() as session:
            observations.record_http_batch(session, [w for _, writes in batch for w in writes], now=self.now,
                                           cycle_id=self.cycle_id)

    def _committed(self, batch: list[tuple[str, list[HttpWrite]]]) -> None:
        for domain, writes in batch:
            minhash = site_sketch(writes)
            if minhash is not None:
                self.parts.pages.add(domain, minhash)
        self.report.crawled += len(batch)

    async def finish(self) -> None:
        """Write what is waiting and wait for every batch handed over (their failure: raise_failure)."""
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - one failure path: raise_failure()
            self.failure = self.failure or exc
        if self.writing is not None:
            await self.writing

    def stop(self) -> None:
        """The round was interrupted: batches not yet being written are not written (one already in its
        transaction commits or not, as a whole)."""
        if self.writing is not None:
            self.writing.cancel()

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


def _record_dns(parts: Components, domains: Sequence[str], fresh_dns: dict[str, DnsResult], now: datetime,
                cycle_id: int | None, report: ObserveReport) -> None:
    """The round's DNS answers, DNS_BATCH domains a transaction, in the order of ``domains``."""
    writes = [DnsWrite(name, probed, tuple(fingerprints.dns_indicators(probed)))
              for name in domains if (probed := fresh_dns.get(name)) is not None]
    for start in range(0, len(writes), DNS_BATCH):
        batch = writes[start:start + DNS_BATCH]
        with parts.store.transaction() as session:
            observations.record_dns_batch(session, batch, now=now, cycle_id=cycle_id)
        report.probed += len(batch)


def _record_rdap(parts: Components, records: dict[str, RdapRecord], now: datetime, cycle_id: int | None,
                 report: ObserveReport) -> None:
    """The round's RDAP records, RDAP_BATCH domains a transaction (storage.observations.record_rdap_batch:
    a registration seen again stamps the latest row, so a batch recorded twice adds nothing)."""
    writes = [RdapWrite(rec, tuple(fingerprints.rdap_indicators(rec))) for rec in records.values()]
    for start in range(0, len(writes), RDAP_BATCH):
        batch = writes[start:start + RDAP_BATCH]
        with parts.store.transaction() as session:
            observations.record_rdap_batch(session, batch, now=now, cycle_id=cycle_id)
        report.rdap += len(batch)


class _LateStage:
    """A progress stage opened late, when its total is known (``open``); steps done before are counted and
    shown at opening."""

    def __init__(self, sink: ProgressSink, name: str) -> None:
        self.sink = sink
        self.name = name
        self.handle: object = None
        self.opened = False
        self.early = 0

    def open(self, total: int) -> None:
        self.handle = self.sink.start(self.name, total)
        self.opened = True
        if self.early:
            self.sink.advance(self.handle, self.early)

    def advance(self) -> None:
        if self.opened:
            self.sink.advance(self.handle)
        else:
            self.early += 1

    def close(self) -> None:
        if self.opened:
            self.sink.finish(self.handle)
            self.opened = False


class _ProbeFeed:
    """The round's DNS probe feeding its crawl: a name is handed to the crawl as soon as its A and AAAA
    answers are in (with those addresses as the crawl's pins, which its guard checks), while the probe
    still asks its other record types; a name that resolves without an address (a CNAME only) is handed
    over with its whole result, unpinned. The crawl gets exactly the names the probe found resolving
    (``DnsResult.resolves``), each once; every result lands in ``fresh_dns`` as before, and
    ``on_probed()`` runs once the probe has ended (not after a failure)."""

    def __init__(self, parts: Components, domains: Sequence[str], fresh_dns: dict[str, DnsResult],
                 stage_name: str, on_probed: Callable[[], None]) -> None:
        self.parts = parts
        self.domains = domains
        self.wanted = set(domains)
        self.fresh_dns = fresh_dns
        self.stage_name = stage_name
        self.on_probed = on_probed
        self.pins: dict[str, tuple[str, ...]] = {}
        self.handed: set[str] = set()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def hand(self, name: str) -> None:
        if name in self.wanted and name not in self.handed:
            self.handed.add(name)
            self.queue.put_nowait(name)

    def on_addresses(self, name: str, addresses: tuple[str, ...]) -> None:
        if name in self.wanted and name not in self.handed:
            self.pins[name] = addresses
            self.hand(name)

    async def run(self) -> None:
        try:
            with stage(self.parts.progress, self.stage_name, len(self.domains)) as step:
                async for result in self.parts.prober.probe(self.domains, on_addresses=self.on_addresses):
                    self.fresh_dns[result.name] = result
                    if result.resolves:
                        self.hand(result.name)
                    step.advance()
            self.on_probed()
        finally:
            self.queue.put_nowait(None)

    async def targets(self, first: str) -> AsyncIterator[str]:
        """``first`` (taken from the queue already), then the others as they come."""
        yield first
        while (name := await self.queue.get()) is not None:
            yield name


async def observe(parts: Components, domains: Sequence[str], *, now: datetime, cycle_id: int | None,
                  crawl: bool = True, rdap: str = "auto", what: str = "watched", recheck: bool = True
                  ) -> ObserveReport:
    """Probe, (crawl), (RDAP), classify and record ``domains``. ``rdap``: "always", "never", or "auto"
    (when never looked up or when the DNS picture changed). ``what`` names the batch in progress.
    ``recheck``: look again at ``domains`` when a seizure banner is first seen (a round split into
    batches does it once over the whole round instead, :func:`recheck_banners`)."""
    report = ObserveReport()
    store = parts.store
    shown = parts.progress
    fresh_dns: dict[str, DnsResult] = {}
    previous_dns: dict[str, DnsResult | None] = {}
    with store.transaction() as session:
        previous_dns.update(observations.latest_dnses(session, domains, conclusive=True))
    crawled: dict[str, SiteCrawl] = {}
    parsed: Callable[[HttpFetch], ParsedPage | None] | None = None
    if not crawl:
        with stage(shown, f"{what}: DNS", len(domains)) as step:
            async for result in parts.prober.probe(domains):
                fresh_dns[result.name] = result
                step.advance()
        _record_dns(parts, domains, fresh_dns, now, cycle_id, report)
    else:
        recorder = _SiteRecorder(parts, now, cycle_id, report)
        parsed = recorder.parsed_page
        # The crawl's bar opens when the probe ends (the number of sites that resolve is then known), with the
        # sites already done; the DNS answers are written then too (before any crawled site, as before).
        crawl_bar = _LateStage(shown, f"{what}: crawl")
        recorder.hold()

        def probed() -> None:
            crawl_bar.open(len(probe.handed))
            recorder.release(lambda: _record_dns(parts, domains, fresh_dns, now, cycle_id, report))

        probe = _ProbeFeed(parts, domains, fresh_dns, f"{what}: DNS", probed)
        feeding = asyncio.ensure_future(probe.run())
        try:
            try:
                first = await probe.queue.get()
                sites: list[SiteCrawl] = []
                if first is not None:  # nothing resolves: no crawl
                    sites = await parts.crawler.crawl(probe.targets(first), now=now, on_site=crawl_bar.advance,
                                                      on_crawled=recorder, pins=probe.pins, expected=len(domains))
            except BaseException:
                feeding.cancel()
                await asyncio.gather(feeding, return_exceptions=True)
                raise
            await feeding  # the whole probe (a crawl that ended early ends it not); its failure, if any
            crawl_bar.close()
            for site in sites:
                crawled[site.domain] = site
                if site.domain not in recorder.done:  # a site the crawl gave up on gets no callback
                    recorder(site)
            await recorder.finish()
        except BaseException:
            crawl_bar.close()
            recorder.stop()
            raise
        recorder.raise_failure()

    rdap_records: dict[str, RdapRecord] = {}
    if rdap != "never":
        with store.transaction() as session:  # one query a chunk, not two a domain
            known = observations.with_rdap(session, domains) if rdap != "always" else set()
            changed = {d for d in domains if d in fresh_dns and _dns_changed(previous_dns.get(d), fresh_dns[d])}
            wanted = [d for d in domains if rdap == "always" or d not in known or d in changed]
        with stage(shown, f"{what}: RDAP", len(wanted)) as step:

            async def lookup(name: str) -> RdapRecord:
                try:  # a changed DNS answer: the registry's record may have changed with it, not the cache's
                    return await parts.rdap.lookup(name, now=now, fresh=name in changed)
                finally:
                    step.advance()

            results = await asyncio.gather(*(lookup(d) for d in wanted), return_exceptions=True)
        for name, outcome in zip(wanted, results):
            if isinstance(outcome, BaseException):
                log.warning("RDAP lookup of %s failed: %s", name, outcome)
                continue
            rdap_records[name] = outcome
        _record_rdap(parts, rdap_records, now, cycle_id, report)

    with store.transaction() as session:
        banners = takedown_pages(session)
    with stage(shown, f"{what}: classify", len(domains)) as step:
        for start in range(0, len(domains), CLASSIFY_BATCH):
            with store.transaction() as session:
                _classify_batch(session, parts, domains[start:start + CLASSIFY_BATCH], fresh_dns, crawled,
                                rdap_records, now, report, banners, parsed, step.advance)
    if recheck:
        recheck_banners(parts, domains, banners, now, report, fresh_dns, crawled, rdap_records, parsed)
    return report


def recheck_banners(parts: Components, domains: Sequence[str], banners: dict[str, str], now: datetime,
                    report: ObserveReport, fresh_dns: dict[str, DnsResult] | None = None,
                    crawled: dict[str, SiteCrawl] | None = None,
                    rdap_records: dict[str, RdapRecord] | None = None,
                    parsed: Callable[[HttpFetch], ParsedPage | None] | None = None) -> None:
    """After a round's classification: when it saw a seizure and the banners (takedown pages of seized
    domains) differ from ``banners`` (those known before it), classify again the round's domains that
    still seem to serve. Observations not passed are read from the store (the round's, just recorded)."""
    fresh = banners_to_recheck(parts, banners, report)
    if fresh is None:
        return
    for start in range(0, len(domains), CLASSIFY_BATCH):
        with parts.store.transaction() as session:
            classify_again(session, parts, domains[start:start + CLASSIFY_BATCH], fresh, now, report, fresh_dns,
                           crawled, rdap_records, parsed)


def banners_to_recheck(parts: Components, banners: dict[str, str], report: ObserveReport) -> dict[str, str] | None:
    """The banners a round's domains are to be classified again with (:func:`recheck_banners`): those of
    the store now, when the round saw a seizure and they differ from ``banners`` (known before it); else None."""
    if not any(c.status == Status.SEIZED.value for _, c in report.changes):
        return None
    with parts.store.transaction() as session:
        fresh = takedown_pages(session)
    return fresh if fresh != banners else None


def classify_again(session: Session, parts: Components, domains: Sequence[str], banners: dict[str, str],
                   now: datetime, report: ObserveReport, fresh_dns: dict[str, DnsResult] | None = None,
                   crawled: dict[str, SiteCrawl] | None = None, rdap_records: dict[str, RdapRecord] | None = None,
                   parsed: Callable[[HttpFetch], ParsedPage | None] | None = None) -> None:
    """In the caller's transaction: of ``domains``, those that still seem to serve (not seized, suspended or
    dead) classified again with ``banners``, their status changes recorded (a banner re-check)."""
    infos = watchlist.get_domains(session, domains)
    serving = [d for d in domains if (info := infos.get(d)) is not None and not Status(info.status).lost]
    if serving:
        _classify_batch(session, parts, serving, fresh_dns or {}, crawled or {}, rdap_records or {}, now, report,
                        banners, parsed)


def takedown_pages(session: Session, *, before: datetime | None = None) -> dict[str, str]:
    """Fingerprints of the pages seized domains show since their seizure (their banners), and of their
    banner pictures → the domain. ``before``: only the domains seized before that time (a round's start:
    the banners known before the round, also when its job resumes after its batches recorded seizures)."""
    out: dict[str, str] = {}
    for info in watchlist.list_domains(session, status=Status.SEIZED.value):
        if before is not None and info.status_since is not None and info.status_since >= before:
            continue
        for fetch in observations.latest_http(session, info.name, with_body=True):
            if (not fetch.body or fetch.archived or not 200 <= (fetch.status or 0) < 300 or fetch.observed_at is None
                    or (info.status_since is not None and fetch.observed_at < info.status_since)):
                continue
            try:
                page = parse(fetch.body, fetch.header("content-type"))
            except Exception as exc:  # noqa: BLE001 - parse is defensive; one odd page must not stop a round
                log.debug("takedown page of %s not parsed: %s", info.name, exc)
                continue
            for key in (takedown_page_key(page, info.name), banner_picture_key(fetch.banner_sha256)):
                if key:
                    out.setdefault(key, info.name)
    return out


def classification_inputs(session: Session, rows: Mapping[str, DomainRow], fresh_dns: Mapping[str, DnsResult],
                          crawled: Mapping[str, SiteCrawl]) -> dict[str, tuple[DnsResult | None, list[HttpFetch]]]:
    """What classifying each of ``rows`` reads, for the whole batch in a few queries a chunk: its DNS answer
    (this round's, else the stored one) and its fetches (this round's crawl, else its latest stored crawl's
    less archived copies, none for a name that no longer resolves). Of stored fetches only the bodies
    classification can read are fetched (detect.classify.site_answered); the others come without."""
    stored_dns = observations.latest_dnses(session, [name for name in rows if name not in fresh_dns])
    dns = {name: fresh_dns.get(name) or stored_dns.get(name) for name in rows}
    # an old crawl says nothing about a name that no longer resolves: not read
    wanted = [row.id for name, row in rows.items()
              if name not in crawled and ((answer := dns[name]) is None or answer.resolves)]
    stored = observations.latest_crawls(session, wanted, body_of=lambda fetch: not fetch.archived
                                        and site_answered(fetch))
    out: dict[str, tuple[DnsResult | None, list[HttpFetch]]] = {}
    for name, row in rows.items():
        if name in crawled:
            out[name] = (dns[name], list(crawled[name].fetches))
        else:
            out[name] = (dns[name], [f for f in stored.get(row.id, ()) if not f.archived])
    return out


def _classify_batch(session: Session, parts: Components, names: Sequence[str], fresh_dns: dict[str, DnsResult],
                    crawled: dict[str, SiteCrawl], rdap_records: dict[str, RdapRecord], now: datetime,
                    report: ObserveReport, banners: dict[str, str],
                    parsed: Callable[[HttpFetch], ParsedPage | None] | None = None,
                    advance: Callable[[], None] | None = None) -> None:
    """Classify ``names`` from their freshest observations and record each status change, in the caller's
    transaction (with the hunt it triggers and the takedown mail it queues). The domains' rows are locked
    and read together (storage.watchlist.lock_domains), and what the round did not observe itself — whether
    a domain was ever live, its stored RDAP record, DNS answer and latest crawl (:func:`classification_inputs`)
    — is read for the whole batch in a few queries."""
    rows = watchlist.lock_domains(session, names, now)
    ids = [row.id for row in rows.values()]
    live = observations.live_domains(session, ids)
    stored_rdap = observations.latest_rdaps(session, [rows[n].id for n in rows if n not in rdap_records])
    inputs = classification_inputs(session, rows, fresh_dns, crawled)
    for name in names:
        row = rows.get(name)
        if row is not None:
            dns, fetches = inputs[name]
            change = _classify_one(session, parts, row, dns, fetches,
                                   rdap_records.get(name) or stored_rdap.get(row.id), row.id in live, now, report,
                                   banners, parsed)
            if change is not None and change.status in observations.LIVE_STATUSES:
                live.add(row.id)  # the change just recorded makes it a domain once live
        if advance is not None:
            advance()


def _classify_one(session: Session, parts: Components, row: DomainRow, dns: DnsResult | None,
                  fetches: Sequence[HttpFetch], rdap: RdapRecord | None, was_live: bool, now: datetime,
                  report: ObserveReport, banners: dict[str, str],
                  parsed: Callable[[HttpFetch], ParsedPage | None] | None = None) -> StatusChange | None:
    """Classify ``row``'s domain (locked by the caller) from its inputs (:func:`classification_inputs`)
    and record a status change if any (returned)."""
    name = row.name
    verdict = classify(dns=dns, fetches=fetches, rdap=rdap, previous=Status(row.status), was_live=was_live,
                       signatures=parts.signatures, takedown_pages=banners, parse_of=parsed)
    replay = _REPLAY.get()
    before: tuple[Status | None] | None = None  # a replayed domain: its status before ``now``
    if replay is not None and replay.now == now and name not in replay.done and row.status_since == now:
        before = watchlist.status_before(session, row.id, now)
        replay.done.add(name)
    change = watchlist.apply_status(session, row, verdict, now)
    shown = change
    if before is not None:  # as one attempt never killed would have reported it: from before ``now``
        shown = (StatusChange(Status(row.status), before[0], row.status_reason, now) if change is None
                 else StatusChange(change.status, before[0], change.reason, now))
        if shown.previous == shown.status:
            shown = None
    if shown is not None:
        report.changes.append((name, shown))
        log.info("%s: %s → %s (%s)%s", name, shown.previous, shown.status, shown.reason,
                 "" if change is not None else " (recorded by an earlier attempt)")
        if parts.on_loss is not None and row.origin != "candidate" and is_loss(shown):
            parts.on_loss(session, name)  # committed with the change, or not at all
    if change is not None and parts.config.alerts.takedowns and row.origin != "candidate" and is_takedown(change):
        change_id = watchlist.latest_change_id(session, name)
        assert change_id is not None
        outbox.enqueue_takedown(session, change_id, now=now, message_id=new_message_id())
    return change


TAKEDOWNS = frozenset({Status.SEIZED.value, Status.SUSPENDED.value})


def is_takedown(change: StatusChange) -> bool:
    """A watched domain seen going from any other known state to seized or suspended. A first look at
    a domain already down is not news, nor is a seized domain later found suspended (or the reverse)."""
    return (change.status in TAKEDOWNS and change.previous not in TAKEDOWNS
            and change.previous not in (None, Status.UNKNOWN.value))
