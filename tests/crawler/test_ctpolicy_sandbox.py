"""CT search against a loopback crt.sh stand-in (sandbox/feeds.py): back-off on 429/503 honouring
Retry-After, a failure after the last try reported not raised, the polite pause between queries, the
per-query cache kept in the store (scheduler/source_state.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.ctpolicy import CtPolicy, search
from crawler.run import run
from crawler.sourcestate import DictMemory
from detect.model import ErrorKind
from sandbox.feeds import FeedServer
from scheduler.source_state import StoreMemory
from storage.store import Store

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ROWS = json.dumps([{"common_name": "quillcourier-news.com",
                    "name_value": "quillcourier-news.com\n*.quillcourier-news.com\nquillcourier.press"}]).encode()
QUERY = "/?q=%25quillcourier%25&output=json"


@pytest.fixture
def crtsh() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def _policy(server: FeedServer, **kw: float) -> CtPolicy:
    options = {"attempts": 3, "backoff": 0.05, "min_interval": 0.0, "cache_hours": 12.0, "timeout": 5.0} | kw
    return CtPolicy(url_template=server.url("/?q={query}&output=json"), **options)  # type: ignore[arg-type]


def test_429_with_retry_after_is_waited_out_then_answered(crtsh: FeedServer) -> None:
    crtsh.publish(QUERY, ROWS, content_type="application/json", failures=[(429, "1")])
    started = time.monotonic()
    sweep = run(lambda: search(_policy(crtsh), ["quillcourier"], DictMemory(), now=NOW))
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 beat the 0.05 s back-off
    assert sweep.failures == () and sweep.queried == 1
    assert sweep.results[0].names == ("quillcourier-news.com", "quillcourier.press")
    assert [crtsh.hits(QUERY, s) for s in (429, 200)] == [1, 1]


def test_a_query_still_busy_after_its_tries_is_a_reported_failure_and_the_next_keyword_goes_on(
        crtsh: FeedServer) -> None:
    crtsh.publish(QUERY, ROWS, failures=[(503, ""), (502, ""), (503, "")])
    crtsh.publish("/?q=%25tribune%25&output=json", b"[]")
    sweep = run(lambda: search(_policy(crtsh), ["quillcourier", "tribune"], DictMemory(), now=NOW))
    assert [f.keyword for f in sweep.failures] == ["quillcourier"]
    assert sweep.failures[0].error_kind is ErrorKind.HTTP and "HTTP 503" in sweep.failures[0].error
    assert crtsh.hits(QUERY) == 3
    assert [r.keyword for r in sweep.results] == ["tribune"]
    assert sweep.notes() == ["ct: 2 keywords, 2 queried, 0 from cache, 1 failed"]


def test_garbage_instead_of_json_is_a_malformed_failure(crtsh: FeedServer) -> None:
    crtsh.publish(QUERY, b"<html>Sorry, something went wrong</html>", content_type="text/html")
    sweep = run(lambda: search(_policy(crtsh), ["quillcourier"], DictMemory(), now=NOW))
    assert sweep.failures[0].error_kind is ErrorKind.MALFORMED


def test_queries_are_spaced_by_the_polite_interval(crtsh: FeedServer) -> None:
    for word in ("alphaword", "betaword", "gammaword"):
        crtsh.publish(f"/?q=%25{word}%25&output=json", b"[]")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    run(lambda: search(_policy(crtsh, min_interval=30.0), ["alphaword", "betaword", "gammaword"], DictMemory(),
                       now=NOW, sleep=sleep))
    assert len(waits) == 2 and all(25.0 < w <= 30.0 for w in waits), waits


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_answers_are_kept_in_the_store_until_cache_hours_pass(crtsh: FeedServer, store: Store,
                                                              tmp_path: Path) -> None:
    crtsh.publish(QUERY, ROWS)
    policy = _policy(crtsh, cache_hours=12.0)
    first = run(lambda: search(policy, ["quillcourier"], StoreMemory(store), now=NOW))
    again = run(lambda: search(policy, ["quillcourier"], StoreMemory(store), now=NOW + timedelta(hours=11)))
    later = run(lambda: search(policy, ["quillcourier"], StoreMemory(store), now=NOW + timedelta(hours=13)))
    assert (first.queried, again.queried, again.cached, later.queried) == (1, 0, 1, 1)
    assert again.results[0].names == first.results[0].names
    assert crtsh.hits(QUERY) == 2


def test_a_generic_word_is_asked_over_http_and_only_recent_certificates_kept(crtsh: FeedServer) -> None:
    rows = [{"name_value": "sentinel-hub.cyou", "entry_timestamp": "2026-12-06T01:00:00.000"},
            {"name_value": "orlandosentinel.com", "entry_timestamp": "2018-01-01T00:00:00.000"},
            {"name_value": "sentinel-old.org", "not_before": "2026-11-01T00:00:00"}]
    crtsh.publish("/?q=%25sentinel%25&output=json", json.dumps(rows).encode(), content_type="application/json")
    memory = DictMemory()
    sweep = run(lambda: search(_policy(crtsh, recent_days=7.0), [], memory, now=NOW, generic=["sentinel"]))
    assert [(r.keyword, r.names, r.recent) for r in sweep.results] == [("sentinel", ("sentinel-hub.cyou",), True)]
    again = run(lambda: search(_policy(crtsh, recent_days=7.0), [], memory, now=NOW, generic=["sentinel"]))
    assert again.cached == 1 and crtsh.hits("/?q=%25sentinel%25&output=json") == 1
