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


def test_same_site_shortcut_answers_as_resolved() -> None:
    """link_host's shortcut for links from the site's root (no urljoin per link) gives what resolving
    them gives, on every base, for the links it takes and the ones that look like them but are not."""
    from detect.trackers import _SAME_HOST_REF, resolved_host

    bases = [*BASES, "//proto.example/p", "mailto:x@y.example", "https://[::1]:8/", "https://x.example:bad/",
             "HTTP://Caps.Example/A?b#c", "ftp://files.example/", "https://user:pw@host.example/"]
    links = [*LINKS, "/2026/11/a-story", "/?x=//evil.example", "/#//evil.example", "?//evil.example",
             "#x", "/", "//", "///x", "/\\evil.example", "/ //x", "/%2F/evil.example", "/a:b@c", "/;p?q#f",
             "/\u00e9", "/\x0b/evil.example", "\t//evil.example", "/\r\n/evil.example"]
    taken = 0
    for base in bases:
        for url in links:
            taken += bool(_SAME_HOST_REF.fullmatch(url))
            assert link_host(base, url) == resolved_host(base, url), (base, url)
    assert taken > 20  # the shortcut is exercised, not only the slow path


def test_every_id_pattern_needs_its_gate_literal() -> None:
    """id_indicators skips a pattern when its literal is not in the page's code: each literal must be a
    piece every match of its pattern contains (written out, unescaped, in the pattern itself)."""
    import re

    from detect.trackers import _ID_PATTERNS

    for kind, literal, pattern in _ID_PATTERNS:
        assert literal, kind
        assert not pattern.flags & re.IGNORECASE, kind
        plain = re.sub(r"\\(.)", r"\1", pattern.pattern)
        assert literal in plain, (kind, literal, pattern.pattern)
