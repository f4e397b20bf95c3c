"""Golden fingerprints: what detect/ makes of a fixed corpus of pages, frozen in golden/fingerprints.json.

The corpus: the archived real Doppelganger/RRN pages and templates of the packaged world, every page
of the packaged world's phases and of three generated worlds (fixed seeds and clock), and a few
hostile bodies. For each page the record holds the whole PageFingerprint (MinHash as its SHA-256) and a
digest of every ParsedPage field and of the page signals classification reads, so a speed change to
parsing, fingerprinting or hashing provably changes no result (tests/detect/test_golden_fingerprints.py).

Regenerate only when a result is meant to change, and say so in the commit:

    .venv/bin/python -m tests.detect.golden_pages --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from detect.fingerprints import PageFingerprint, fingerprint_page
from detect.model import HttpFetch
from detect.page_parse import ParsedPage, parse
from detect.page_signals import client_redirect, placeholder, takedown_page_key

GOLDEN = Path(__file__).resolve().parent / "golden" / "fingerprints.json"
WORLD = Path(str(resources.files("sandbox.worlds").joinpath("doppelganger-2024")))
SEEDS = (3, 11, 24)
CLOCK = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOSTILE: dict[str, bytes] = {
    "nested divs": b"<html><body>" + b"<div>" * 5_000 + b"deep" + b"</div>" * 5_000,
    "invalid utf-8": b"<html><head><title>\xff\xfe\xc3(</title></head><body>\xe2\x28\xa1 text</body></html>",
    "lying charset": b'<meta charset="utf-16"><title>x</title>' + b"a" * 1000,
    "latin-1 meta": b'<meta charset="iso-8859-1"><title>caf\xe9</title><p>d\xe9j\xe0 vu ' + b"mot " * 40 + b"</p>",
    "unknown charset": b'<meta charset="no-such-codec"><title>ok</title>',
    "nul bytes": b"<html>\x00<title>a\x00b</title>\x00</html>",
    "empty": b"",
    "only a comment": b"<!-- -->",
    "unclosed everything": b"<html><head><title>t<script>var a='<" + b"<a href='" * 500,
    "regex bait": b"<script>" + b"ym(" * 2_000 + b"fbq('init', " * 500 + b"</script>",
    "xml declaration": b'<?xml version="1.0" encoding="ISO-8859-1"?><html><title>caf\xe9</title></html>',
    "ids in text only": b"<html><body><p>UA-1234567-1 G-ABCDEFGH12 GTM-ABC123 pub-1234567890123456</p></body></html>",
    "ids in code": (b"<html><head><script>gtag('config','G-ABCDEFGH12');ym(12345678, 'init');"
                    b"fbq('init', '123456789012345');_paq.push(['setSiteId', '7']);var u='//m.example.org/';"
                    b"</script><link rel=stylesheet href='/wp-content/themes/mytheme/style.css'>"
                    b"<meta name=google-site-verification content=abc><meta name=generator content='WordPress 6'>"
                    b"<meta property=og:locale content=de_DE></head><body>"
                    b"<a href='https://t.me/somechan'>t</a><a href='https://x.com/intent/tweet'>s</a>"
                    b"<blockquote><a href='https://t.me/quoted'>q</a></blockquote>"
                    b"<script src='https://cdn.example.net/app.js'></script><img src=/a.png alt='Banner'>"
                    b"<meta http-equiv=refresh content='0; url=https://elsewhere.example/'></body></html>"),
    "repeated attributes": (b"<html lang=fr lang=de><body class='a1 b' class='c2'><img src=/one.png src=/two.png "
                            b"alt=first alt=second><a href='/x' href='https://other.example/' rel=me rel=nofollow>x"
                            b"</a><meta name=generator name=other content=A content=B></body></html>"),
    "base href": b"<html><head><base href='https://other.example/sub/'></head><body><a href='x'>x</a>"
                 b"<link rel=canonical href='/c'></body></html>",
}


def corpus() -> Iterator[tuple[str, HttpFetch]]:
    """(key, fetch) of every page of the corpus, in a fixed order."""
    for path in sorted(WORLD.glob("*/**/*.html")):
        rel = path.relative_to(WORLD)
        domain = rel.parts[1] if rel.parts[0] == "pages" else "template.example"
        yield f"file:{rel}", _fetch(domain, "/", path.read_bytes(), "text/html; charset=UTF-8")
    yield from _world_pages("doppelganger-2024", None)
    from sandbox.worldgen import generate

    for seed in SEEDS:
        yield from _world_pages(f"generated-{seed}", generate(seed, now=CLOCK).world)
    for name, body in HOSTILE.items():
        yield f"hostile:{name}", _fetch("hostile.example", "/", body, "text/html")


def _world_pages(label: str, source: Any) -> Iterator[tuple[str, HttpFetch]]:
    from sandbox.world import load_world

    world = load_world(source if source is not None else label)
    seen: set[bytes] = set()
    for phase in world.phases:
        for name in sorted(world.views[phase].domains):
            site = world.views[phase].domains[name].site
            if site is None:
                continue
            pages = sorted(site.pages.items())
            if site.catch_all is not None:
                pages.append(("/*", site.catch_all))
            for path, page in pages:
                if not page.body or "html" not in page.content_type:
                    continue
                digest = hashlib.sha256(page.body + page.content_type.encode()).digest()
                if digest in seen:  # the same page in another phase (or a shared template): once
                    continue
                seen.add(digest)
                yield (f"{label}:{phase}:{name}{path}",
                       _fetch(name, path if path.startswith("/") and path != "/*" else "/", page.body,
                              page.content_type))


def _fetch(domain: str, path: str, body: bytes, content_type: str) -> HttpFetch:
    url = f"https://{domain}{path}"
    return HttpFetch(domain=domain, url=url, final_url=url, status=200, headers=(("Content-Type", content_type),),
                     body=body)


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def record(fetch: HttpFetch) -> dict[str, Any]:
    """What detect/ makes of one page: the fingerprint in full, the parse and page signals as digests."""
    fp: PageFingerprint = fingerprint_page(fetch)
    page: ParsedPage = parse(fetch.body, fetch.header("content-type"))
    return {
        "body_sha256": hashlib.sha256(fetch.body).hexdigest()[:24],
        "fingerprint": {
            "title": fp.title,
            "indicators": [[i.kind, i.value] for i in fp.indicators],
            "outlinks": list(fp.outlinks),
            "canonical": fp.canonical,
            "minhash_sha256": hashlib.sha256(fp.minhash).hexdigest() if fp.minhash is not None else None,
            "tlsh": fp.tlsh,
            "text_length": fp.text_length,
            "language": fp.language,
        },
        "parsed": {f.name: _digest(getattr(page, f.name)) for f in fields(ParsedPage)},
        "signals": {
            "placeholder": placeholder(page),
            "takedown_page_key": takedown_page_key(page, fetch.domain),
            "client_redirect": list(client_redirect(page)),
        },
    }


def compute() -> dict[str, dict[str, Any]]:
    return {key: record(fetch) for key, fetch in corpus()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"write {GOLDEN}")
    args = parser.parse_args()
    data = compute()
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True) + "\n"
    if args.write:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        print(f"{len(data)} pages written to {GOLDEN}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
