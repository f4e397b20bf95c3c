"""Reading archived pages from files: where address and time come from, and one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hydrawatch.archive import ArchiveError, page_files, parse_time, read_page, read_warc

NOW = datetime(2026, 11, 23, tzinfo=UTC)
PAGE = b"<html><head><title>Notre pays</title></head><body><p>Article</p></body></html>"


@pytest.mark.parametrize("text, want", [
    ("2023-09-13 12:35:41", datetime(2023, 9, 13, 12, 35, 41, tzinfo=UTC)),  # news-please, naive = UTC
    ("2024-08-01T10:00:00+02:00", datetime(2024, 8, 1, 8, tzinfo=UTC)),
    ("2024-08-01T10:00:00Z", datetime(2024, 8, 1, 10, tzinfo=UTC)),
    ("2024-08-01", datetime(2024, 8, 1, tzinfo=UTC)),
    ("20240801", datetime(2024, 8, 1, tzinfo=UTC)),
    ("20240801123005", datetime(2024, 8, 1, 12, 30, 5, tzinfo=UTC)),
])
def test_times_in_the_forms_archives_use(text: str, want: datetime) -> None:
    assert parse_time(text) == want


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024080", ""])
def test_bad_times_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_a_news_please_sidecar_gives_address_and_time(tmp_path: Path) -> None:
    page = tmp_path / "__1699516928.html"
    page.write_bytes(PAGE)
    (tmp_path / "__1699516928.html.json").write_text(json.dumps(
        {"url": "https://www.notrepays.today/monde/", "date_download": "2023-11-09 08:02:08", "title_rss": "NULL"}))
    got = read_page(page, max_bytes=10_000, now=NOW)
    assert (got.domain, got.url, got.observed_at) == (
        "notrepays.today", "https://www.notrepays.today/monde/", datetime(2023, 11, 9, 8, 2, 8, tzinfo=UTC))
    assert got.body == PAGE and not got.truncated


def test_a_wayback_file_name_gives_address_and_time(tmp_path: Path) -> None:
    page = tmp_path / "web.archive.org_web_20240801123000id__https___rrn.media_.html"
    page.write_bytes(PAGE)
    got = read_page(page, max_bytes=10_000, now=NOW)
    assert got.domain == "rrn.media" and got.observed_at == datetime(2024, 8, 1, 12, 30, tzinfo=UTC)


def test_the_command_line_fills_what_the_files_do_not_say(tmp_path: Path) -> None:
    page = tmp_path / "home.html"
    page.write_bytes(PAGE * 10)
    got = read_page(page, domain="rrn.media", at=datetime(2024, 1, 2, tzinfo=UTC), max_bytes=100, now=NOW)
    assert got.url == "https://rrn.media/" and got.truncated and len(got.body) == 100


@pytest.mark.parametrize("setup, kwargs, message", [
    (lambda p: p.write_bytes(PAGE), {}, "no address"),
    (lambda p: p.write_bytes(PAGE), {"domain": "rrn.media"}, "no time"),
    (lambda p: p.write_bytes(b"  \n"), {"domain": "rrn.media"}, "empty file"),
    (lambda p: (p.write_bytes(PAGE), p.with_name(p.name + ".json").write_text("{oops")), {}, "not readable JSON"),
    (lambda p: (p.write_bytes(PAGE), p.with_name(p.name + ".json").write_text('{"url": "https://a-site.com/"}')),
     {"domain": "rrn.media", "at": datetime(2024, 1, 1, tzinfo=UTC)}, "from a-site.com, not rrn.media"),
    (lambda p: p.write_bytes(PAGE), {"domain": "rrn.media", "at": datetime(2030, 1, 1, tzinfo=UTC)}, "in the future"),
    (lambda p: (p.write_bytes(PAGE), p.with_name(p.name + ".json").write_text('{"url": "https://rrn.media/", '
                                                                              '"date": "soon"}')), {}, "not a time"),
])
def test_pages_that_cannot_be_placed_are_one_line_errors(tmp_path: Path, setup, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "page.html"
    setup(page)
    with pytest.raises(ArchiveError, match=message) as err:
        read_page(page, max_bytes=10_000, now=NOW, **kwargs)
    assert "\n" not in str(err.value) and str(page) in str(err.value)


def test_folders_are_searched_for_pages(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    for name in ("a/1.html", "a/2.HTM", "a/2.HTM.json", "notes.txt", "b.xhtml"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in page_files([tmp_path])] == ["a/1.html", "a/2.HTM", "b.xhtml"]


def write_warc(path: Path, records: list[tuple[str, str, bytes, str]], gz: bool) -> Path:
    """A WARC file of response records (url, status line, body, content type), as warcio writes them."""
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
    from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gz)
        for url, status, body, ctype in records:
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=BytesIO(body), http_headers=http,
                                               warc_headers_dict={"WARC-Date": "2024-08-01T12:30:00Z"})
            writer.write_record(record)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_a_warc_gives_its_html_responses_with_their_own_address_and_time(tmp_path: Path, gz: bool) -> None:
    path = write_warc(tmp_path / ("crawl.warc.gz" if gz else "crawl.warc"), [
        ("https://www.rrn.media/", "200 OK", PAGE, "text/html; charset=utf-8"),
        ("https://www.rrn.media/logo.png", "200 OK", b"\x89PNG", "image/png"),
        ("https://www.rrn.media/gone", "404 Not Found", PAGE, "text/html"),
        ("https://lavirgule.news/", "200 OK", PAGE, "text/html"),
    ], gz)
    got = read_warc(path, max_bytes=10_000, now=NOW)
    assert [(p.domain, p.url, p.observed_at, p.body) for p in got] == [
        ("rrn.media", "https://www.rrn.media/", datetime(2024, 8, 1, 12, 30, tzinfo=UTC), PAGE),
        ("lavirgule.news", "https://lavirgule.news/", datetime(2024, 8, 1, 12, 30, tzinfo=UTC), PAGE)]
    assert [p.domain for p in read_warc(path, domain="lavirgule.news", max_bytes=10_000, now=NOW)] == ["lavirgule.news"]
    assert [p.relative_to(tmp_path).as_posix() for p in page_files([tmp_path])] == [path.name]


def test_warcs_without_pages_and_broken_ones_are_one_line_errors(tmp_path: Path) -> None:
    images = write_warc(tmp_path / "images.warc", [("https://rrn.media/a.png", "200 OK", b"x", "image/png")], False)
    with pytest.raises(ArchiveError, match="no HTML page with a 2xx status"):
        read_warc(images, max_bytes=100, now=NOW)
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 not really gzip at all" * 10)
    with pytest.raises(ArchiveError, match="not a readable WARC file|no HTML page") as err:
        read_warc(broken, max_bytes=100, now=NOW)
    assert "\n" not in str(err.value)
