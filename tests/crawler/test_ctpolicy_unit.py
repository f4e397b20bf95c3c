"""CT search policy, the pure parts: which pattern crt.sh is asked, the encoded address, back-off waits,
name_value lists split, and a sweep answered from memory (no network)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from crawler.ct import names_from
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
