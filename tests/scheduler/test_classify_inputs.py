"""A round's classification reads what it needs for a batch of domains in a few queries
(scheduler.observe.classification_inputs), not three or more a domain: the same inputs — DNS answer,
latest crawl less archived copies, the bodies classification reads — and so the same verdicts as the
per-domain reads it replaced (storage.observations.latest_dns and latest_http with bodies), on both stores."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from detect.classify import classify, site_answered
from detect.model import ARCHIVED_HEADER, Classification, DnsResult, ErrorKind, Hop, HttpFetch, Rcode, Status
from hydrawatch.bundled import load_signatures
from scheduler.observe import classification_inputs, takedown_pages
from storage import observations, watchlist
from storage.observations import HttpWrite
from storage.store import Store

T0 = datetime(2024, 9, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)
HTML = ("content-type", "text/html")
STORY = b"<html><title>News</title><body>" + b"<p>a long story about the port and its ships</p>" * 40 + b"</body></html>"
BANNER = (b"<html><title>This domain has been seized</title><body><p>This domain has been seized by the FBI "
          b"pursuant to a seizure warrant.</p><img src=seal.png></body></html>")
WORDLESS = b"<html><title>Avis</title><body><img src='/eagle.jpg' alt='%s'></body></html>"
FOR_SALE = b"<title>x</title><body><h1>This domain is for sale!</h1><a>Buy now</a></body>"


def _dns(name: str, rcode: Rcode = Rcode.NOERROR, a: tuple[str, ...] = ("203.0.113.5",)) -> DnsResult:
    records = {"A": a, "NS": ("ns1.host.example",)} if rcode is Rcode.NOERROR and a else {}
    if rcode is Rcode.NOERROR and not a:
        records = {"NS": ("ns1.host.example",)}
    return DnsResult(name, rcode, records)


def _fetch(name: str, body: bytes = STORY, status: int | None = 200, path: str = "/", final: str = "",
           error: ErrorKind | None = None, archived: bool = False, banner: str = "",
           redirects: tuple[Hop, ...] = ()) -> HttpFetch:
    headers = (HTML, (ARCHIVED_HEADER, "1")) if archived else (HTML,)
    return HttpFetch(name, f"https://{name}{path}", final_url=final or f"https://{name}{path}", status=status,
                     headers=headers, body=body, error_kind=error, error="slow" if error else "", banner_sha256=banner,
                     redirects=redirects)


# name → (its DNS answer or None, its crawls: (when, fetches) oldest first, its status)
WORLD: dict[str, tuple[DnsResult | None, list[tuple[datetime, list[HttpFetch]]], Status]] = {
    "nocrawl.ltd": (_dns("nocrawl.ltd"), [], Status.UNKNOWN),
    "nobody.ltd": (_dns("nobody.ltd"), [(T1, [_fetch("nobody.ltd", body=b"")])], Status.ACTIVE),
    "active.ltd": (_dns("active.ltd"), [(T0, [_fetch("active.ltd", FOR_SALE)]),
                                        (T1, [_fetch("active.ltd"), _fetch("active.ltd", b"gone", 404, "/about")])],
                   Status.PARKED),
    "redirect.ltd": (_dns("redirect.ltd"), [(T1, [_fetch("redirect.ltd", final="https://elsewhere.ltd/",
                                                          redirects=(Hop("https://redirect.ltd/", 301,
                                                                         "https://elsewhere.ltd/"),))])],
                     Status.ACTIVE),
    "seized.ltd": (_dns("seized.ltd"), [(T0, [_fetch("seized.ltd")]),
                                        (T2, [_fetch("seized.ltd", WORDLESS % b"seized.ltd")])], Status.SEIZED),
    "banner.ltd": (_dns("banner.ltd"), [(T1, [_fetch("banner.ltd", BANNER)])], Status.ACTIVE),
    "copy.ltd": (_dns("copy.ltd"), [(T2, [_fetch("copy.ltd", WORDLESS % b"copy.ltd")])], Status.ACTIVE),
    "parked.ltd": (_dns("parked.ltd"), [(T1, [_fetch("parked.ltd", FOR_SALE)])], Status.UNKNOWN),
    "gateway.ltd": (_dns("gateway.ltd"), [(T1, [_fetch("gateway.ltd", b"<h1>502 Bad Gateway</h1>", 502)])],
                    Status.ACTIVE),
    "timeout.ltd": (_dns("timeout.ltd"), [(T1, [_fetch("timeout.ltd", b"", None, error=ErrorKind.TIMEOUT)])],
                    Status.ACTIVE),
    "gone.ltd": (_dns("gone.ltd", Rcode.NXDOMAIN), [(T1, [_fetch("gone.ltd")])], Status.ACTIVE),
    "servfail.ltd": (_dns("servfail.ltd", Rcode.SERVFAIL), [(T1, [_fetch("servfail.ltd")])], Status.ACTIVE),
    "noaddr.ltd": (_dns("noaddr.ltd", a=()), [(T1, [_fetch("noaddr.ltd")])], Status.ACTIVE),
    "archived.ltd": (_dns("archived.ltd"), [(T2, [_fetch("archived.ltd", BANNER, archived=True),
                                                  _fetch("archived.ltd", FOR_SALE, path="/x")])], Status.ACTIVE),
    "onlyarchive.ltd": (_dns("onlyarchive.ltd"), [(T2, [_fetch("onlyarchive.ltd", BANNER, archived=True)])],
                        Status.ACTIVE),
    "nodns.ltd": (None, [(T1, [_fetch("nodns.ltd", FOR_SALE)])], Status.UNKNOWN),
    "busy.ltd": (_dns("busy.ltd"), [(T1, [_fetch("busy.ltd", FOR_SALE, 429, error=ErrorKind.RATE_LIMITED)])],
                 Status.ACTIVE),
    "nothing.ltd": (None, [], Status.UNKNOWN),
}


def _fill(store: Store) -> None:
    with store.transaction() as session:
        watchlist.add_domains(session, list(WORLD), campaign="", origin="seed", now=T0)
        for name, (dns, crawls, status) in WORLD.items():
            if dns is not None:
                observations.record_dns(session, name, dns, [], now=T0)
            for when, fetches in crawls:
                observations.record_http_batch(session, [HttpWrite(f) for f in fetches], now=when)
            if status is not Status.UNKNOWN:
                watchlist.set_status(session, name, Classification(status, "given"), T0 + timedelta(days=2))


def _per_domain(session: Session, name: str, fresh: dict[str, DnsResult]) -> tuple[DnsResult | None, list[HttpFetch]]:
    """The reads classification made before, one domain at a time (scheduler.observe._classify_one)."""
    dns = fresh.get(name) or observations.latest_dns(session, name)
    fetches = [f for f in observations.latest_http(session, name, with_body=True) if not f.archived]
    if dns is not None and not dns.resolves:
        fetches = []
    return dns, fetches


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_batched_inputs_and_verdicts_equal_the_per_domain_reads(store: Store) -> None:
    _fill(store)
    signatures = load_signatures()
    names = list(WORLD)
    fresh = {"nocrawl.ltd": _dns("nocrawl.ltd"), "gone.ltd": _dns("gone.ltd", Rcode.NXDOMAIN)}  # this round's
    with store.transaction() as session:
        banners = takedown_pages(session)
        assert set(banners.values()) == {"seized.ltd"}  # its wordless banner since the seizure: copy.ltd shows it
        rows = watchlist.lock_domains(session, names, T2)
        with _statements(store) as before:
            old = {name: _per_domain(session, name, fresh) for name in names}
        with _statements(store) as after:
            new = classification_inputs(session, rows, fresh, {})
    assert set(new) == set(old) == set(names)
    statuses = {}
    for name in names:
        dns, fetches = new[name]
        ref_dns, ref_fetches = old[name]
        assert dns == ref_dns, name
        # the same fetches; only the bodies classification reads were fetched, each equal to the stored one
        assert [dataclasses.replace(f, body=b"") for f in fetches] == [
            dataclasses.replace(f, body=b"") for f in ref_fetches], name
        assert [f.body for f in fetches] == [f.body if site_answered(f) else b"" for f in ref_fetches], name
        row = rows[name]
        verdicts = [classify(dns=d, fetches=f, rdap=None, previous=Status(row.status), was_live=True,
                             signatures=signatures, takedown_pages=banners) for d, f in ((dns, fetches),
                                                                                          (ref_dns, ref_fetches))]
        assert verdicts[0] == verdicts[1], name
        statuses[name] = verdicts[0].status
    # the world covers what it claims: every rule these domains are built for gives its status (seized.ltd's
    # wordless banner seizes copy.ltd, not itself: no word on it says seized)
    assert statuses == {
        "nocrawl.ltd": Status.UNKNOWN, "nobody.ltd": Status.ACTIVE, "active.ltd": Status.ACTIVE,
        "redirect.ltd": Status.REDIRECTING, "seized.ltd": Status.ACTIVE, "banner.ltd": Status.SEIZED,
        "copy.ltd": Status.SEIZED, "parked.ltd": Status.PARKED, "gateway.ltd": Status.DEAD,
        "timeout.ltd": Status.DEAD, "gone.ltd": Status.SUSPENDED, "servfail.ltd": Status.ACTIVE,
        "noaddr.ltd": Status.DEAD, "archived.ltd": Status.PARKED, "onlyarchive.ltd": Status.ACTIVE,
        "nodns.ltd": Status.PARKED, "busy.ltd": Status.PARKED, "nothing.ltd": Status.UNKNOWN}
    assert [f.body for f in new["gateway.ltd"][1]] == [b""] and new["gone.ltd"][1] == []  # never read
    # per domain: 3 statements and 1 a body before; now a few for the whole batch (no fresh DNS: 2 more)
    assert len(before) >= 3 * len(names) and len(after) <= 4, (len(before), len(after))


def test_the_statements_a_batch_costs_do_not_grow_with_its_domains(store: Store) -> None:
    """A batch of domains, none answered this round (a re-check): the DNS answers, the crawls and the bodies
    are read one query each a chunk, whatever the number of domains (and their domain ids found once)."""
    _fill(store)
    names = list(WORLD)
    with store.transaction() as session:
        rows = watchlist.lock_domains(session, names, T2)
        with _statements(store) as few:
            classification_inputs(session, {n: rows[n] for n in names[:3]}, {}, {})
        with _statements(store) as many:
            classification_inputs(session, rows, {}, {})
    assert len(many) == len(few) <= 4, (len(few), len(many))
