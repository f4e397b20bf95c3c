"""RDAP is asked on a domain's first look and when its DNS picture changes, and a DNS timeout is not a
change: a resolver falling behind must not send every name it dropped to the RDAP servers (asked one call
at a time per server across a cluster) once as it times out and again as it answers the same as before.
On the sandbox internet (its resolver drops a name's questions in one phase), SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crawler import run as reactor_run
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from sandbox.net import Sandbox
from scheduler.components import Components
from scheduler.observe import observe
from storage import watchlist
from storage.store import Store

pytestmark = [pytest.mark.sandbox]

NAMES = ("steadyrdap.info", "movedrdap.info")


def _world() -> dict[str, Any]:
    def site(i: int, name: str) -> dict[str, Any]:
        return {"ns": ["ns1.rdaphost.net", "ns2.rdaphost.net"], "a": [f"185.44.15.{20 + i}"],
                "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-01-10"},
                "web": {"pages": {"/": {"html": f"<title>{name}</title><p>{name}</p>"}}, "https": False}}

    return {"world": {"name": "rdap-on-change", "campaign": "rdap", "seeds": list(NAMES)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       # the resolver drops steadyrdap.info's questions: every try times out
                       "down": {"clock": "2025-03-10T18:00:00Z",
                                "domains": {"steadyrdap.info": {"behaviours": ["dns-timeout"]}}},
                       # it answers again, as before; movedrdap.info moved to another host
                       "back": {"clock": "2025-03-11T00:00:00Z",
                                "domains": {"steadyrdap.info": {"behaviours": []},
                                            "movedrdap.info": {"a": ["185.44.16.9"]}}}},
            "domains": {d: site(i, d) for i, d in enumerate(NAMES)}}


@pytest.mark.timeout(180)
def test_a_dns_timeout_sends_no_name_to_rdap_and_neither_does_the_same_answer_after_it(
        make_sandbox: Callable[..., Sandbox], store_url: str) -> None:
    sb = make_sandbox(_world(), "before")
    overrides = sb.config_overrides()
    cfg = from_mapping({**overrides, "storage": {"url": store_url}, "rdap": {**overrides.get("rdap", {}),
                                                                         "cache_hours": 0},
                        "dns": {**overrides["dns"], "timeout": 0.5, "retries": 0}}, source="(test)")
    store = Store.from_url(store_url)
    store.init()
    with store.transaction() as session:
        watchlist.add_domains(session, list(NAMES), campaign="rdap", origin="seed", now=sb.clock())
    parts = Components.from_settings(cfg, store, load_signatures())
    asked: dict[str, list[str]] = {}
    lookups: dict[str, int] = {}

    async def main() -> None:
        try:
            for phase in ("before", "down", "back"):
                sb.reset(phase)  # the phase, and the RDAP server's log cleared
                report = await observe(parts, list(NAMES), now=sb.clock(), cycle_id=None, crawl=False, rdap="auto")
                asked[phase] = sorted(sb.rdap_requests)
                lookups[phase] = report.rdap
        finally:
            await parts.close()

    try:
        reactor_run.run(main)
    finally:
        store.close()
    assert asked == {"before": sorted(NAMES),  # a first look: both
                     "down": [],  # a timeout is no news (before: steadyrdap.info asked)
                     "back": ["movedrdap.info"]}, asked  # the same answer again: no news either
    assert lookups == {"before": 2, "down": 0, "back": 1}


@pytest.mark.fast
def test_what_counts_as_a_dns_change() -> None:
    from detect.model import DnsResult, Rcode
    from scheduler.observe import _dns_changed

    def answer(rcode: Rcode, a: tuple[str, ...] = ("192.0.2.1",), ns: tuple[str, ...] = ("ns1.h.example",)
               ) -> DnsResult:
        return DnsResult("x.example", rcode, {"A": a, "NS": ns} if rcode is Rcode.NOERROR else {})

    ok = answer(Rcode.NOERROR)
    assert not _dns_changed(ok, answer(Rcode.NOERROR))
    assert _dns_changed(None, ok)  # never answered before: a first picture
    assert _dns_changed(ok, answer(Rcode.NOERROR, a=("192.0.2.2",)))
    assert _dns_changed(ok, answer(Rcode.NOERROR, ns=("ns1.seized.example",)))
    assert _dns_changed(ok, answer(Rcode.NXDOMAIN)) and _dns_changed(ok, answer(Rcode.SERVFAIL))
    for failed in (Rcode.TIMEOUT, Rcode.ERROR):  # no answer in time, garbage: no news about the name
        assert not failed.conclusive
        assert not _dns_changed(ok, answer(failed)) and not _dns_changed(None, answer(failed))


def _seizure_world() -> dict[str, Any]:
    lock = {"status": ["server hold", "server transfer prohibited"], "updated": "2025-03-09T21:30:00Z",
            "nameservers": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"]}
    return {"world": {"name": "rdap-seizure", "campaign": "rdap", "seeds": ["seizedrdap.info"]},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       # seized: the registry changed the record at 21:30 the day before the store last saw the
                       # site serving (a cached delegation); the store sees the change 6 hours later
                       "seized": {"clock": "2025-03-10T18:00:00Z",
                                  "domains": {"seizedrdap.info": {"ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"],
                                                                  "a": [], "web": False, "rdap": lock}}}},
            "domains": {"seizedrdap.info": {
                "ns": ["ns1.rdaphost.net", "ns2.rdaphost.net"], "a": ["185.44.15.30"],
                "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-01-10", "updated": "2025-01-10"},
                "web": {"pages": {"/": {"html": "<title>seized</title><p>news</p>"}}, "https": False}}}}


@pytest.mark.timeout(180)
def test_a_seizure_seen_within_the_rdap_cache_asks_again_and_dates_the_takedown(
        make_sandbox: Callable[..., Sandbox], store_url: str) -> None:
    """The RDAP answer of the first look is cached for [rdap] cache_hours (24 by default); the seizure six
    hours later changes the DNS answer, so RDAP is asked again, not answered from the cache: the server
    hold and the seizure's name servers are seen, and the record's "last changed" date reaches the site's
    scoring profile as the takedown's date."""
    from datetime import UTC, datetime

    from detect.model import Status
    from storage import profiles

    sb = make_sandbox(_seizure_world(), "before")
    overrides = sb.config_overrides()
    cfg = from_mapping({**overrides, "storage": {"url": store_url}}, source="(test)")
    assert cfg.rdap.cache_hours >= 6
    store = Store.from_url(store_url)
    store.init()
    with store.transaction() as session:
        watchlist.add_domains(session, ["seizedrdap.info"], campaign="rdap", origin="seed", now=sb.clock())
    parts = Components.from_settings(cfg, store, load_signatures())
    asked: dict[str, list[str]] = {}

    async def main() -> None:
        try:
            for phase in ("before", "seized"):
                sb.reset(phase)
                await observe(parts, ["seizedrdap.info"], now=sb.clock(), cycle_id=None, crawl=True, rdap="auto")
                asked[phase] = sorted(sb.rdap_requests)
        finally:
            await parts.close()

    try:
        reactor_run.run(main)
        with store.transaction() as session:
            profile = profiles.site_profile(session, "seizedrdap.info", in_network=True)
    finally:
        store.close()
    assert asked == {"before": ["seizedrdap.info"], "seized": ["seizedrdap.info"]}, asked
    assert profile.status is Status.SEIZED
    assert profile.registry_changed == datetime(2025, 3, 9, 21, 30, tzinfo=UTC)
