"""A site the crawl could not fetch is never skipped in silence (issue 17: "work lost 0"): a round records a
failed attempt for every watched site — the fetch with its error (timeout, reset, rate limit), or the DNS
answer that kept it from being crawled (a timeout) — and the next round tries every one of them again. On the
sandbox internet, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crawler import run as reactor_run
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from sandbox.net import Sandbox
from scheduler.components import Components
from scheduler.observe import observe
from storage import watchlist
from storage.models import DomainRow, ObservationRow
from storage.store import Store

pytestmark = [pytest.mark.sandbox]

SITES = {"failok.info": "", "failreset.info": "reset", "faildrip.info": "slow-drip", "faildns.info": "dns-timeout",
         "faillimit.info": "http-429"}


def _world() -> dict[str, Any]:
    def site(i: int, name: str, behaviour: str) -> dict[str, Any]:
        page = f"<!doctype html><html><head><title>{name}</title></head><body><p>{name} news</p></body></html>"
        return {"ns": ["ns1.failhost.net", "ns2.failhost.net"], "a": [f"185.44.14.{20 + i}"],
                "web": {"pages": {"/": {"html": page}}, "https": False},
                **({"behaviours": [behaviour]} if behaviour else {})}

    return {"world": {"name": "failing-sites", "campaign": "fail", "seeds": sorted(SITES)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"}},
            "domains": {d: site(i, d, b) for i, (d, b) in enumerate(sorted(SITES.items()))}}


Attempt = tuple[Any, Any, str | None, str | None, str]


def _attempts(store: Store) -> dict[str, dict[str, list[Attempt]]]:
    """Domain → kind ("dns", "http") → (first seen, last seen, rcode, error kind, error) of each stored
    observation (a repeated DNS answer stamps its row: first and last seen span the rounds)."""
    out: dict[str, dict[str, list[Attempt]]] = {}
    with store.transaction() as session:
        for name, kind, first, last, rcode, error_kind, error in session.execute(
                select(DomainRow.name, ObservationRow.kind, ObservationRow.observed_at, ObservationRow.last_seen_at,
                       ObservationRow.rcode, ObservationRow.error_kind, ObservationRow.error)
                .join(DomainRow, DomainRow.id == ObservationRow.domain_id).order_by(ObservationRow.id)):
            out.setdefault(name, {}).setdefault(kind, []).append((first, last, rcode, error_kind, error))
    return out


@pytest.mark.timeout(180)
def test_every_site_a_round_could_not_fetch_is_recorded_as_failed_and_tried_again_next_round(
        make_sandbox: Callable[..., Sandbox], store_url: str) -> None:
    sb = make_sandbox(_world(), "before")
    overrides = sb.config_overrides()
    cfg = from_mapping({**overrides, "storage": {"url": store_url},
                        "dns": {**overrides["dns"], "timeout": 0.5, "retries": 0},
                        "crawler": {**overrides["crawler"], "timeout": 1.5, "retries": 0, "rate_limit_retries": 0}},
                       source="(test)")
    store = Store.from_url(store_url)
    store.init()
    first = sb.clock()
    second = first + timedelta(hours=6)
    with store.transaction() as session:
        watchlist.add_domains(session, sorted(SITES), campaign="fail", origin="seed", now=first)
    parts = Components.from_settings(cfg, store, load_signatures())
    reports = []

    async def main() -> None:
        try:
            for now in (first, second):
                reports.append(await observe(parts, sorted(SITES), now=now, cycle_id=None, crawl=True, rdap="never"))
        finally:
            await parts.close()

    try:
        reactor_run.run(main)
        seen = _attempts(store)
        with store.transaction() as session:
            status = {d: watchlist.get_domain(session, d).status for d in SITES}  # type: ignore[union-attr]
    finally:
        store.close()
    for now in (first, second):
        for domain in SITES:
            dns = [o for o in seen[domain]["dns"] if o[0] <= now <= o[1]]
            http = [o for o in seen[domain].get("http", []) if o[0] == now]
            assert dns, (domain, now, seen[domain])  # probed every round
            if domain == "faildns.info":  # not crawled: the DNS answer that kept it out, with its error
                assert dns[0][2] == "TIMEOUT" and "no answer" in dns[0][4] and not http, seen[domain]
            else:  # crawled every round: a fetch recorded, with its error when it failed
                assert len(http) == 2, (domain, now, seen[domain])  # https (refused: no TLS site) and http
    http_error = {d: [o[3] for o in seen[d]["http"] if o[0] == second][1] for d in SITES if d != "faildns.info"}
    assert http_error == {"failok.info": None, "failreset.info": "connection", "faildrip.info": "timeout",
                          "faillimit.info": "rate_limited"}, seen
    limited = [o[4] for o in seen["faillimit.info"]["http"] if o[3] == "rate_limited"]
    assert limited and all("429" in e and "\n" not in e for e in limited)
    assert status == {"failok.info": "active", "failreset.info": "dead", "faildrip.info": "dead",
                      "faildns.info": "unknown", "faillimit.info": "active"}
    assert [r.crawled for r in reports] == [len(SITES) - 1] * 2  # every resolving site's crawl was recorded
