"""The link and host caches that speed up page fingerprinting (bench/crawl.py) change no answer."""

from __future__ import annotations

import pytest

from detect.names import host_of
from detect.trackers import link_host

BASES = ["https://news.example/", "http://news.example/a/b?x=1", "https://WWW.News.Example:8443/", "http://[::1",
         "", "javascript:void(0)"]
LINKS = ["/", "/section/politics", "//evil.example/x", "/\t/evil.example/", "/\n/evil2.example", "\x01//e.example",
         " https://Twitter.com/Foo ", "http://[::1", "mailto:a@b.example", "javascript:alert(1)", "?q=1", "#top",
         "../up", "https://t.me/chan", "HTTPS://WWW.EXAMPLE.CO.UK/", "https://bücher.example/", "http://1.2.3.4/"]


@pytest.mark.parametrize("base", BASES)
def test_link_host_cached_answers_as_computed(base: str) -> None:
    for url in LINKS:
        first = link_host(base, url)
        assert first == link_host.__wrapped__(base, url)  # type: ignore[attr-defined]
        assert link_host(base, url) == first  # a cache hit gives the same answer


def test_host_of_cached_answers_as_computed() -> None:
    for text in [*LINKS, "news.example", "www.bild.eu.com", "co.uk", "1.2.3.4", "", "-bad-.example", "münchen.de"]:
        first = host_of(text)
        assert first == host_of.__wrapped__(text)  # type: ignore[attr-defined]
        assert host_of(text) == first
