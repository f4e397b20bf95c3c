"""The crawl's write batches (scheduler.observe._SiteRecorder): committed in a writer thread one after the
other while the crawl goes on; a store failure stops the recording and is raised once the crawl is over,
and the batches committed before it stay recorded."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from crawler import run as reactor_run
from hydrawatch.bundled import load_signatures
from hydrawatch.config import Config
from sandbox.net import Sandbox
from scheduler import observe as observe_module
from scheduler.components import Components
from storage import observations, watchlist
from storage.models import ObservationRow
from storage.store import Store


def _observe(sandbox: Sandbox, config: Config) -> tuple[Store, list[str], BaseException | None, int]:
    store = Store.from_url(config.storage.url)
    store.init()
    seeds = list(sandbox.seeds)
    with store.transaction() as session:
        watchlist.add_domains(session, seeds, campaign="t", origin="seed", now=sandbox.clock())
    parts = Components.from_settings(config, store, load_signatures())
    raised: list[BaseException] = []
    crawled: list[int] = []

    async def main() -> None:
        try:
            report = await observe_module.observe(parts, seeds, now=sandbox.clock(), cycle_id=None, crawl=True,
                                                  rdap="never")
            crawled.append(report.crawled)
        except RuntimeError as exc:
            raised.append(exc)
        finally:
            await parts.close()

    reactor_run.run(main)
    return store, seeds, (raised or [None])[0], (crawled or [0])[0]


def _crawled_domains(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count(func.distinct(ObservationRow.domain_id)))
                                  .where(ObservationRow.kind == "http")) or 0)


@pytest.mark.sandbox
def test_every_batch_is_written_by_the_writer_thread(sandbox: Sandbox, sandbox_config: Config,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe_module, "HTTP_BATCH", 1)  # one site a batch: many batches in flight
    threads: set[str] = set()
    real = observations.record_http_batch

    def recording(*args: Any, **kwargs: Any) -> list[int]:
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(observations, "record_http_batch", recording)
    store, _seeds, failure, crawled = _observe(sandbox, sandbox_config)
    try:
        assert failure is None
        assert crawled == _crawled_domains(store) > 1
        assert threads and threading.main_thread().name not in threads  # written off the crawl's loop
    finally:
        store.close()


@pytest.mark.sandbox
def test_a_store_failure_is_raised_after_the_crawl_and_keeps_the_batches_before_it(
        sandbox: Sandbox, sandbox_config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe_module, "HTTP_BATCH", 1)
    calls: list[int] = []
    real = observations.record_http_batch

    def failing(*args: Any, **kwargs: Any) -> list[int]:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the store went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(observations, "record_http_batch", failing)
    store, _seeds, failure, _crawled = _observe(sandbox, sandbox_config)
    try:
        assert isinstance(failure, RuntimeError) and "the store went away" in str(failure)
        assert len(calls) == 3  # nothing written after the failure
        assert _crawled_domains(store) == 2  # the two batches committed before it stay
    finally:
        store.close()
