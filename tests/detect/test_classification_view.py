"""detect.page_signals.classification_view: what the crawl's page workers hand back of a page's parse for
classification. classify() must decide exactly the same on the view as on the whole parse, for every page
of the golden corpus (archived real pages, three generated worlds, hostile bodies) and for long pages built
to carry each signal past the point where classification stops reading, in every context that reads more
of a page (a weak seizure NS, a takedown page or banner picture already seen, every previous status)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from functools import cache

import pytest

from detect.classify import classify
from detect.model import DnsResult, HttpFetch, Rcode, Status
from detect.page_parse import ParsedPage, parse
from detect.page_signals import SHORT_PAGE_CHARS, banner_picture_key, classification_view, takedown_page_key
from detect.signatures import Signatures
from hydrawatch.bundled import load_signatures
from tests.detect.golden_pages import corpus

pytestmark = pytest.mark.fast

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
FILLER = " ".join(f"word{i} story text" for i in range(SHORT_PAGE_CHARS // 8))  # well past SHORT_PAGE_CHARS


@cache
def sig() -> Signatures:
    return load_signatures()


def _long_pages() -> list[tuple[str, HttpFetch]]:
    """Long pages with each signal of a short page: a seizure phrase in the title, the top and an alt text,
    a suspension and a for-sale phrase, a meta refresh (read on any page) and a JavaScript location."""
    strong = next(p.text for p in sig().phrases if p.strength == "strong")
    bodies = {
        "seizure phrase": f"<title>{strong}</title><p>{strong}</p><img src=/b.png alt='{strong}'><p>{FILLER}</p>",
        "suspension": f"<title>account suspended</title><p>this account has been suspended {FILLER}</p>",
        "for sale": f"<title>domain for sale</title><p>this domain is for sale {FILLER}</p>",
        "meta refresh": f"<meta http-equiv=refresh content='0; url=https://elsewhere.example/'><p>{FILLER}</p>"
                        "<a href='https://other.example/'>x</a>",
        "slow refresh": f"<meta http-equiv=refresh content='60; url=https://elsewhere.example/'><p>{FILLER}</p>",
        "js location": f"<script>window.location='https://elsewhere.example/'</script><p>{FILLER}</p>",
        "block notice": f"<title>CUII</title><p>{FILLER}</p>",
    }
    return [(f"long:{k}", HttpFetch("long.example", "https://long.example/", final_url="https://long.example/",
                                     status=200, headers=(("Content-Type", "text/html"),),
                                     body=f"<html>{v}</html>".encode(), observed_at=T0))
            for k, v in bodies.items()]


def _contexts(fetch: HttpFetch, page: ParsedPage) -> list[dict[str, object]]:
    weak = next((ns.host for ns in sig().nameservers if ns.kind == "seizure_weak"), "ns1.host.example")
    key = takedown_page_key(page, "seized.example")
    banner = dataclasses.replace(fetch, banner_sha256="ab" * 32)
    seen = {k: "seized.example" for k in (key, takedown_page_key(page, fetch.domain),
                                          banner_picture_key(banner.banner_sha256)) if k}
    out: list[dict[str, object]] = []
    for previous in (Status.UNKNOWN, Status.ACTIVE, Status.SEIZED):
        for ns in ("ns1.host.example", weak):
            dns = DnsResult(fetch.domain, Rcode.NOERROR, {"NS": (ns,), "A": ("203.0.113.5",)}, observed_at=T0)
            for fetches in ([fetch], [banner]):
                out.append({"dns": dns, "fetches": fetches, "rdap": None, "previous": previous, "was_live": True,
                            "signatures": sig(), "takedown_pages": seen or None})
    return out


def test_classify_decides_the_same_on_the_view_as_on_the_whole_parse() -> None:
    pages = [*corpus(), *_long_pages()]
    trimmed = 0
    for label, fetch in pages:
        if not fetch.body:
            continue
        page = parse(fetch.body, fetch.header("content-type"))
        view = classification_view(page)
        trimmed += view is not page
        for context in _contexts(fetch, page):
            whole = classify(**context, parse_of=lambda f, p=page: p)  # type: ignore[arg-type]
            viewed = classify(**context, parse_of=lambda f, v=view: v)  # type: ignore[arg-type]
            assert viewed == whole, (label, context["previous"], whole, viewed)
    assert trimmed >= 20  # the corpus has long pages, whose view is smaller


def test_a_short_page_is_its_own_view_and_a_long_one_keeps_what_classification_reads() -> None:
    short = parse(b"<html><title>t</title><p>hello</p><a href='/x'>x</a></html>", "text/html")
    assert classification_view(short) is short
    (_label, fetch), *_ = [p for p in _long_pages() if p[0] == "long:meta refresh"]
    page = parse(fetch.body, "text/html")
    view = classification_view(page)
    assert (view.title, view.text, view.metas, view.html_lang, view.base_href) == \
        (page.title, page.text, page.metas, page.html_lang, page.base_href)
    assert view.links == tuple(link for link in page.links if link.tag == "meta") and view.links
    assert view.skeleton == view.code == "" and view.tags == page.tags[:1]
