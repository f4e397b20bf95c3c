"""NRD feeds fetched from a loopback publisher (sandbox/feeds.py): formats, dated addresses read for the
days since the last read, conditional GET (an unchanged file costs a 304), a busy publisher's 429 waited
out, and broken files reported with their address while the other days are still read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from crawler.nrd import NrdLimits, NrdRead, read
from crawler.nrd_dates import expand
from crawler.run import run
from crawler.sources import Retry
from crawler.sourcestate import DictMemory
from sandbox.feeds import FeedServer, gzip_bytes, lines, zip_bytes
from scheduler.source_state import StoreMemory
from storage.store import Store

TODAY = date(2026, 12, 6)
LIMITS = NrdLimits(max_days=7, max_bytes=1_000_000, timeout=5.0, retry=Retry(attempts=2, backoff=0.05))


@pytest.fixture
def publisher() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def _read(template: str, memory: DictMemory | StoreMemory, today: date = TODAY,
          limits: NrdLimits = LIMITS) -> tuple[list[str], NrdRead]:
    stats = NrdRead(template)

    async def go() -> list[str]:
        return [n async for n in read(template, memory, today=today, limits=limits, stats=stats)]
    return run(go), stats


def _day(n: int) -> date:
    return TODAY - timedelta(days=n)


def test_a_dated_zip_feed_is_read_for_yesterday_and_today_then_only_what_changed(publisher: FeedServer) -> None:
    template = publisher.url("/nrd/{date:%Y%m%d}.zip")
    for n, names in ((1, ["yesterday-one.com", "yesterday-two.net"]), (0, ["today-one.org"])):
        publisher.publish(f"/nrd/{_day(n):%Y%m%d}.zip",
                          zip_bytes({"part1.txt": lines(names[:1]), "part2.txt": lines(names[1:])}))
    memory = DictMemory()
    names, stats = _read(template, memory)
    assert names == ["yesterday-one.com", "yesterday-two.net", "today-one.org"]
    assert (stats.files, stats.unchanged, stats.errors) == (2, 0, [])

    again, stats = _read(template, memory)  # same day: today's file checked again, unchanged
    assert again == [] and (stats.files, stats.unchanged) == (0, 1)
    assert publisher.hits(f"/nrd/{_day(1):%Y%m%d}.zip") == 1  # yesterday's is not asked twice
    assert publisher.hits(f"/nrd/{_day(0):%Y%m%d}.zip", 304) == 1

    publisher.publish(f"/nrd/{_day(0):%Y%m%d}.zip", zip_bytes({"x.txt": lines(["today-one.org", "late-one.com"])}))
    later, stats = _read(template, memory)
    assert later == ["today-one.org", "late-one.com"] and stats.files == 1


def test_the_days_since_the_last_read_are_read_once_capped_by_max_days(publisher: FeedServer) -> None:
    template = publisher.url("/d/{date}.txt.gz")
    for n in range(10):
        publisher.publish(f"/d/{_day(n).isoformat()}.txt.gz", gzip_bytes(lines([f"day{n}-shop.com"])))
    memory = DictMemory()
    _read(template, memory, today=_day(9))
    names, _ = _read(template, memory, limits=NrdLimits(max_days=3, timeout=5.0))
    assert names == ["day2-shop.com", "day1-shop.com", "day0-shop.com"]


def test_a_day_not_yet_published_is_noted_and_read_next_time(publisher: FeedServer) -> None:
    template = publisher.url("/whoisds/{date_base64:%Y-%m-%d.zip}/nrd")
    yesterday = expand("/whoisds/{date_base64:%Y-%m-%d.zip}/nrd", _day(1))
    publisher.publish(yesterday, zip_bytes({"domain-names.txt": lines(["early-bird.com"])}))
    memory = DictMemory()
    names, stats = _read(template, memory)
    assert names == ["early-bird.com"] and stats.missing == [TODAY.isoformat()] and stats.errors == []
    assert "not published: 2026-12-06" in stats.note()
    publisher.publish(expand("/whoisds/{date_base64:%Y-%m-%d.zip}/nrd", TODAY),
                      zip_bytes({"domain-names.txt": lines(["late-bird.com"])}))
    names, stats = _read(template, memory)
    assert names == ["late-bird.com"] and stats.unchanged == 1  # yesterday's checked again: 304


def test_a_truncated_file_is_reported_its_names_kept_and_fetched_whole_next_time(publisher: FeedServer) -> None:
    body = gzip_bytes(lines(f"bulk-{i}-shop.com" for i in range(30000)))
    publisher.publish("/feed.gz", body, cut_at=len(body) // 2)
    memory = DictMemory()
    names, stats = _read(publisher.url("/feed.gz"), memory)
    assert 0 < len(names) < 30000
    assert len(stats.errors) == 1 and stats.errors[0].startswith(f"nrd {publisher.url('/feed.gz')}: ")
    publisher.publish("/feed.gz", body)
    names, stats = _read(publisher.url("/feed.gz"), memory)
    assert len(names) == 30000 and stats.errors == [] and publisher.hits("/feed.gz", 304) == 0


def test_a_corrupt_day_does_not_stop_the_other_days(publisher: FeedServer) -> None:
    publisher.publish(f"/z/{_day(1).isoformat()}.zip", b"PK\x03\x04 this is not a zip at all" * 10)
    publisher.publish(f"/z/{TODAY.isoformat()}.zip", zip_bytes({"a.txt": lines(["fine-news.com"])}))
    names, stats = _read(publisher.url("/z/{date}.zip"), DictMemory())
    assert names == ["fine-news.com"]
    assert len(stats.errors) == 1 and "corrupt zip" in stats.errors[0] and _day(1).isoformat() in stats.errors[0]


def test_a_feed_over_max_bytes_is_reported_and_skipped(publisher: FeedServer) -> None:
    publisher.publish("/huge.txt", lines(f"bulk-{i}-shop.com" for i in range(100000)))
    names, stats = _read(publisher.url("/huge.txt"), DictMemory(), limits=NrdLimits(max_bytes=100_000, timeout=5.0))
    assert len(names) < 10000 and "too_large" in stats.errors[0]


def test_a_busy_publisher_is_waited_out(publisher: FeedServer) -> None:
    publisher.publish("/busy.txt", lines(["patient-one.com"]), failures=[(429, "1")])
    started = time.monotonic()
    names, stats = _read(publisher.url("/busy.txt"), DictMemory())
    assert names == ["patient-one.com"] and stats.errors == []
    assert time.monotonic() - started >= 0.9 and publisher.hits("/busy.txt", 429) == 1


def test_a_local_gzip_file_with_a_date_in_its_name(tmp_path: Path) -> None:
    (tmp_path / f"nrd-{TODAY:%Y%m%d}.txt.gz").write_bytes(gzip_bytes(lines(["local-news.com"])))
    names, stats = _read(str(tmp_path / "nrd-{date:%Y%m%d}.txt.gz"), DictMemory())
    assert names == ["local-news.com"] and stats.errors == [] and stats.missing == [_day(1).isoformat()]
    names, stats = _read(str(tmp_path / "nrd.txt"), DictMemory())  # an undated file must be there
    assert names == [] and "no such file" in stats.errors[0]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_validators_and_the_last_day_are_kept_in_the_store(publisher: FeedServer, store: Store) -> None:
    publisher.publish(f"/s/{TODAY.isoformat()}.txt", lines(["stored-one.com"]),
                      last_modified="Sun, 06 Dec 2026 01:00:00 GMT", etag='"v1"')
    template = publisher.url("/s/{date}.txt")
    _read(template, StoreMemory(store))
    names, stats = _read(template, StoreMemory(store))
    assert names == [] and stats.unchanged == 1
    asked = [r.headers for r in publisher.requests if r.target.startswith("/s/") and r.status == 304]
    assert asked[0]["if-none-match"] == '"v1"' and asked[0]["if-modified-since"] == "Sun, 06 Dec 2026 01:00:00 GMT"


def test_a_publisher_still_busy_after_the_retry_is_reported_as_rate_limited(publisher: FeedServer) -> None:
    publisher.publish("/busy.txt", lines(["patient-one.com"]), failures=[(429, ""), (429, "")])
    names, stats = _read(publisher.url("/busy.txt"), DictMemory())
    assert names == [] and stats.errors and ": rate_limited: " in stats.errors[0], stats.errors
    assert publisher.hits("/busy.txt", 429) == 2
