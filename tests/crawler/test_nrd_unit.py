"""NRD feeds, the pure parts: dated addresses in the encodings publishers use, which days are read,
and a file's format told by its first bytes (plain, gzip, zip of several files), decoded without a
network; a corrupt, cut, huge or UTF-16 file is a typed SourceError naming its source."""

from __future__ import annotations

import asyncio
import gzip
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date

import pytest

from crawler.nrd import NrdLimits, NrdRead, _names
from crawler.nrd_dates import days_to_read, expand, is_dated, template_problem
from crawler.sources import SourceError
from detect.model import ErrorKind

DAY = date(2024, 9, 5)


def test_date_fields_expand_as_publishers_write_them() -> None:
    assert expand("https://feeds.example/nrd/{date}.txt", DAY) == "https://feeds.example/nrd/2024-09-05.txt"
    assert expand("/data/nrd-{date:%Y%m%d}.txt.gz", DAY) == "/data/nrd-20240905.txt.gz"
    # WhoisDS: the base64 of "2024-09-05.zip" in the path
    assert expand("https://www.whoisds.com/whois-database/newly-registered-domains/{date_base64:%Y-%m-%d.zip}/nrd",
                  DAY) == "https://www.whoisds.com/whois-database/newly-registered-domains/MjAyNC0wOS0wNS56aXA=/nrd"
    assert not is_dated("https://feeds.example/nrd.txt") and is_dated("x/{date:%d}")


def test_an_unknown_field_is_named_when_the_config_is_read() -> None:
    assert template_problem("https://x/{date}/{day}.zip") is not None
    assert template_problem("https://x/{date:%Y}/{date_base64:%Y-%m-%d.zip}") is None


def test_days_read_yesterday_and_today_first_then_the_days_since_the_last_read_capped() -> None:
    assert days_to_read(DAY, None, 7) == [date(2024, 9, 4), DAY]
    assert days_to_read(DAY, DAY, 7) == [DAY]
    assert days_to_read(DAY, date(2024, 9, 2), 7) == [date(2024, 9, n) for n in (2, 3, 4, 5)]
    assert days_to_read(DAY, date(2024, 8, 1), 3) == [date(2024, 9, n) for n in (3, 4, 5)]
    assert days_to_read(DAY, date(2024, 9, 9), 7) == [date(2024, 9, 4), DAY]  # a clock set back


async def _chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _read(data: bytes, limits: NrdLimits | None = None) -> tuple[list[str], NrdRead]:
    stats = NrdRead("feed")

    async def go() -> list[str]:
        return [n async for n in _names(_chunks(data, 4096), "feed", limits or NrdLimits(), stats)]
    return asyncio.run(go()), stats


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


TEXT = b"# today\nalpha-news.com\nnot a domain\nBETA-NEWS.NET,2024-09-05\n"


def test_plain_gzip_and_zip_of_several_files_give_the_same_names() -> None:
    want = ["alpha-news.com", "beta-news.net"]
    assert _read(TEXT)[0] == want
    assert _read(gzip.compress(TEXT))[0] == want
    names, stats = _read(_zip({"a.txt": b"alpha-news.com", "dir/b.txt": b"beta-news.net\n", "dir/": b""}))
    assert names == want and stats.skipped == 0  # a member without a final newline does not merge


def test_a_gzip_cut_short_keeps_what_was_read_and_fails_naming_the_source() -> None:
    data = gzip.compress(b"".join(f"name-{i}.com\n".encode() for i in range(20000)))
    stats = NrdRead("feed")
    names: list[str] = []

    async def go() -> None:
        async for n in _names(_chunks(data[: len(data) // 2], 4096), "https://f/x.gz", NrdLimits(), stats):
            names.append(n)
    with pytest.raises(SourceError) as err:
        asyncio.run(go())
    assert err.value.kind is ErrorKind.MALFORMED and "https://f/x.gz: gzip cut short" in str(err.value)
    assert 0 < len(names) < 20000


@pytest.mark.parametrize(("data", "kind", "words"), [
    (b"PK\x03\x04" + b"\x00" * 100, ErrorKind.MALFORMED, "corrupt zip"),
    (b"\x1f\x8b\x08\x00garbage-not-deflate" * 3, ErrorKind.MALFORMED, "corrupt gzip"),
    ("alpha-news.com\n".encode("utf-16"), ErrorKind.MALFORMED, "not UTF-8 text"),
    (gzip.compress(b"a" * 5000), ErrorKind.TOO_LARGE, "over 1000 bytes once decompressed"),
    (_zip({"big.txt": b"a" * 5000}), ErrorKind.TOO_LARGE, "over 1000 bytes once decompressed"),
], ids=["corrupt-zip", "corrupt-gzip", "utf16", "gzip-bomb", "zip-bomb"])
def test_a_bad_file_is_a_typed_error_naming_the_source(data: bytes, kind: ErrorKind, words: str) -> None:
    with pytest.raises(SourceError) as err:
        _read(data, NrdLimits(max_bytes=1000))
    assert err.value.kind is kind and words in str(err.value) and str(err.value).startswith("feed: ")


def test_invalid_utf8_lines_are_skipped_not_fatal() -> None:
    names, stats = _read(b"alpha-news.com\n\xff\xfebad.com\nbeta-news.net\n")
    assert names == ["alpha-news.com", "beta-news.net"] and stats.skipped == 1
