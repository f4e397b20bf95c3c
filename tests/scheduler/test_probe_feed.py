"""The round's DNS probe overlapped with its crawl (scheduler.observe._ProbeFeed): a site's crawl starts as
soon as its A and AAAA answers are in, pinned to those answers (the guard checks them; no second lookup),
while the probe goes on asking the other record types; every record type is still recorded, before any
crawled page, and the crawl gets exactly the names that resolve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crawler import run as reactor_run
from crawler.resolver import GuardedResolver
from detect.model import RECORD_TYPES, DnsResult
from hydrawatch.bundled import load_signatures
from hydrawatch.config import Config
from sandbox.net import Sandbox
from scheduler import observe as observe_module
from scheduler.components import Components
from storage import observations, watchlist
from storage.models import ObservationRow
from storage.store import Store


def _sorted(records: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {rtype: sorted(values) for rtype, values in records.items()}


@pytest.mark.sandbox
def test_the_overlapped_probe_records_every_type_and_pins_the_crawl(
        sandbox: Sandbox, sandbox_config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    real_lookup = GuardedResolver.lookup

    async def lookup(self: GuardedResolver, host: str) -> tuple[str, ...]:
        looked_up.append(host)
        return await real_lookup(self, host)

    monkeypatch.setattr(GuardedResolver, "lookup", lookup)
    handed: list[tuple[list[str], dict[str, tuple[str, ...]]]] = []
    store = Store.from_url(sandbox_config.storage.url)
    store.init()
    seeds = sorted(sandbox.seeds) + ["no-such-name-at-all.com"]
    with store.transaction() as session:
        watchlist.add_domains(session, seeds, campaign="t", origin="seed", now=sandbox.clock())
    parts = Components.from_settings(sandbox_config, store, load_signatures())
    crawler_crawl = parts.crawler.crawl

    async def crawl(domains: Any, **kwargs: Any) -> Any:
        names: list[str] = []

        async def seen() -> Any:
            async for name in domains:
                names.append(name)
                yield name

        pins = kwargs["pins"]
        try:
            return await crawler_crawl(seen(), **kwargs)
        finally:
            handed.append((names, dict(pins)))

    monkeypatch.setattr(parts.crawler, "crawl", crawl)
    probed: dict[str, DnsResult] = {}

    async def main() -> None:
        try:
            await observe_module.observe(parts, seeds, now=sandbox.clock(), cycle_id=None, crawl=True, rdap="never")
            async for result in parts.prober.probe(seeds):  # the same names probed on their own
                probed[result.name] = result
        finally:
            await parts.close()

    reactor_run.run(main)
    try:
        ((names, pins),) = handed
        resolving = {name for name, result in probed.items() if result.resolves}
        assert sorted(names) == sorted(resolving) and len(names) == len(set(names))  # each resolving name once
        assert "no-such-name-at-all.com" not in names
        with store.transaction() as session:
            for name in seeds:
                stored = observations.latest_dns(session, name)
                assert stored is not None, name
                assert stored.rcode is probed[name].rcode, name
                # every record type, as a probe alone finds it (the order of a record set is the server's)
                assert _sorted(stored.records) == _sorted(probed[name].records), name
                if probed[name].resolves:
                    assert set(stored.records) == set(RECORD_TYPES), name
                    addresses = (*stored.get("A"), *stored.get("AAAA"))
                    if addresses:
                        assert pins[name] == addresses  # pinned to the probe's own answer, A then AAAA
            # the round's DNS answers are written before any crawled page (as when the probe came first)
            last_dns = session.scalar(select(func.max(ObservationRow.id)).where(ObservationRow.kind == "dns"))
            first_http = session.scalar(select(func.min(ObservationRow.id)).where(ObservationRow.kind == "http"))
            assert last_dns is not None and first_http is not None and last_dns < first_http
        # the guard asked DNS for no pinned name (only for hosts the probe did not cover: redirect targets)
        assert not set(looked_up) & set(pins), set(looked_up) & set(pins)
    finally:
        store.close()


@pytest.mark.sandbox
def test_page_workers_classify_the_round_as_the_crawl_process_does(sandbox: Sandbox, tmp_path: Path) -> None:
    """With page workers the crawl's process classifies from the view of each page they hand back
    (detect.page_signals.classification_view): the same statuses and reasons as parsing in process."""
    from hydrawatch.config import from_mapping

    seeds = sorted(sandbox.seeds)
    changes: dict[int, list[tuple[str, str | None, str]]] = {}
    for workers in (0, 1):
        overrides = sandbox.config_overrides()
        config = from_mapping({**overrides, "storage": {"url": f"sqlite:///{tmp_path / f'w{workers}.db'}"},
                               "crawler": {**overrides.get("crawler", {}), "page_workers": workers,
                                           "page_workers_min_sites": 1}}, source="(test)")
        store = Store.from_url(config.storage.url)
        store.init()
        with store.transaction() as session:
            watchlist.add_domains(session, seeds, campaign="t", origin="seed", now=sandbox.clock())
        parts = Components.from_settings(config, store, load_signatures())

        async def main(parts: Components = parts, workers: int = workers) -> None:
            try:
                report = await observe_module.observe(parts, seeds, now=sandbox.clock(), cycle_id=None, crawl=True,
                                                      rdap="never")
                changes[workers] = sorted((name, c.status, c.reason) for name, c in report.changes)
            finally:
                await parts.close()

        try:
            reactor_run.run(main)
        finally:
            store.close()
    assert changes[0] and changes[1] == changes[0]


def test_the_round_keeps_parses_for_classification_by_their_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parses are kept for classification while their characters stay under PARSED_KEEP_CHARS: a page
    worker's view of a long page weighs its text only, so more of a big round's pages are kept; past the
    bound a page is not kept (classification parses it again)."""
    from datetime import UTC, datetime

    from detect.model import HttpFetch
    from detect.page_parse import parse
    from detect.page_signals import classification_view

    body = b"<html><title>t</title><style>a{}</style><p>" + b"story text " * 2000 + b"</p></html>"
    page = parse(body, "text/html")
    view = classification_view(page)
    assert view is not page
    recorder = observe_module._SiteRecorder(None, datetime.now(UTC), None, observe_module.ObserveReport())  # type: ignore[arg-type]
    fetches = [HttpFetch(f"s{i}.example", f"https://s{i}.example/", status=200, body=body + bytes([65 + i]),
                         headers=(("Content-Type", "text/html"),)) for i in range(3)]
    weight = observe_module._parse_chars(view)
    monkeypatch.setattr(observe_module, "PARSED_KEEP_CHARS", 2 * weight)
    for fetch in fetches:
        recorder.keep_parsed(fetch, view)
    assert [recorder.parsed_page(f) is view for f in fetches] == [True, True, False]
    assert recorder.parsed_chars == 2 * weight < 2 * len(body)
