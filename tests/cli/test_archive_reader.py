"""Reading archived pages from files: where address and time come from, and one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hydrawatch.archive import ArchiveError, page_files, parse_time, read_page

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
