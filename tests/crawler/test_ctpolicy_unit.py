"""CT search policy, the pure parts: which pattern crt.sh is asked, the encoded address, back-off waits,
name_value lists split, and a sweep answered from memory (no network)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from crawler.ct import names_from, recent_names_from
from crawler.ctpolicy import CtPolicy, cache_key, like_pattern, query_url, search
from crawler.sources import Retry
from crawler.sourcestate import DictMemory, SourceMemo

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CRTSH = "https://crt.sh/?q={query}&output=json&exclude=expired"


def test_a_long_keyword_is_searched_inside_names_a_short_one_as_a_whole_label() -> None:
    assert like_pattern("washingtonpost", 6) == "%washingtonpost%"
    assert like_pattern("spiegel", 6) == "%spiegel%"
    assert like_pattern("bild", 6) == "bild.%"
    assert like_pattern(" Welt ", 4) == "%welt%"


def test_the_pattern_is_url_encoded_into_the_template() -> None:
    assert query_url(CRTSH, "%spiegel%") == "https://crt.sh/?q=%25spiegel%25&output=json&exclude=expired"
    assert query_url(CRTSH, "bild.%") == "https://crt.sh/?q=bild.%25&output=json&exclude=expired"


def test_back_off_doubles_and_a_longer_retry_after_wins_within_the_cap() -> None:
    retry = Retry(attempts=4, backoff=2.0, max_wait=10.0)
    assert [retry.wait(n, None) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]
    assert retry.wait(1, 7.0) == 7.0
    assert retry.wait(3, 1.0) == 8.0
    assert retry.wait(1, 3600.0) == 10.0


def test_name_value_lists_are_split_and_wildcards_dropped() -> None:
    rows = [{"common_name": "quillcourier.press", "name_value": "quillcourier.press\n*.quillcourier.press\nwww.quillcourier.press"},
            {"name_value": "QUILLCOURIER-NEWS.COM.\r\nnot a name\n"}, "junk", {"name_value": 7}]
    assert names_from(rows) == ("quillcourier-news.com", "quillcourier.press", "www.quillcourier.press")


async def _never(seconds: float) -> None:
    raise AssertionError("a sweep answered from memory does not wait")


def test_a_sweep_within_the_cache_time_asks_nothing() -> None:
    policy = CtPolicy(url_template="http://127.0.0.1:9/?q={query}", cache_hours=12)
    memory = DictMemory()
    for word in ("quillcourier", "tribune"):
        memory.remember(cache_key(policy.url_template, like_pattern(word, policy.min_keyword)),
                        SourceMemo(cache=MappingProxyType({"names": [f"{word}-news.com"]}),
                                   updated_at=NOW - timedelta(hours=11)))
    sweep = asyncio.run(search(policy, ["quillcourier", "tribune"], memory, now=NOW, sleep=_never))
    assert (sweep.queried, sweep.cached, sweep.failures) == (0, 2, ())
    assert [r.names for r in sweep.results] == [("quillcourier-news.com",), ("tribune-news.com",)]
    assert sweep.notes() == ["ct: 2 keywords, 0 queried, 2 from cache"]


def test_recent_names_keep_certificates_logged_since_the_newest_first_up_to_the_cap() -> None:
    since = NOW - timedelta(days=7)
    rows = [
        {"name_value": "sentinel-hub.cyou\nwww.sentinel-hub.cyou", "entry_timestamp": "2026-12-06T09:00:00.123"},
        {"name_value": "orlandosentinel.com", "entry_timestamp": "2019-03-01T00:00:00.000"},
        {"name_value": "sentinelone.com", "not_before": "2026-12-01T00:00:00"},       # no entry_timestamp
        {"name_value": "sentinel-watch.org"},                                          # no time at all
        {"name_value": "sentinel-bikes.de", "entry_timestamp": "not a time"},
        {"name_value": "sentinel-now.pw", "entry_timestamp": "2026-12-06T11:00:00Z"},  # aware
        "garbage",
    ]
    assert recent_names_from(rows, since, 100) == (
        "sentinel-hub.cyou", "sentinel-now.pw", "sentinelone.com", "www.sentinel-hub.cyou")
    # the cap keeps the most recently logged names
    assert recent_names_from(rows, since, 1) == ("sentinel-now.pw",)
    assert recent_names_from([], since, 5) == ()


def test_generic_keywords_are_asked_for_recent_certificates_only_and_cached_apart() -> None:
    memory = DictMemory()
    plain = cache_key(CRTSH, "%sentinel%")
    memory.remember(plain, SourceMemo(cache=MappingProxyType({"names": ["orlandosentinel.com"]}), updated_at=NOW))
    recent = plain + " recent 7d max 100"
    memory.remember(recent, SourceMemo(cache=MappingProxyType({"names": ["sentinel-hub.cyou"]}), updated_at=NOW))
    policy = CtPolicy(url_template=CRTSH, recent_days=7.0, recent_max=100)
    sweep = asyncio.run(search(policy, [], memory, now=NOW, generic=["sentinel"]))
    assert [(r.keyword, r.names, r.recent) for r in sweep.results] == [("sentinel", ("sentinel-hub.cyou",), True)]
    assert sweep.cached == 1 and sweep.queried == 0
    # recent_days 0: generic words are not asked at all
    off = asyncio.run(search(CtPolicy(url_template=CRTSH), [], memory, now=NOW, generic=["sentinel"]))
    assert off.results == () and off.queried == 0
    # a generic word that is also a keyword is asked once, over all time
    both = asyncio.run(search(policy, ["sentinel"], memory, now=NOW, generic=["sentinel"]))
    assert [(r.names, r.recent) for r in both.results] == [(("orlandosentinel.com",), False)]
