"""Zone downloads from a CZDS-layout server on loopback (sandbox/zones.py): the bearer token, the daily
limit, and every bad file reported with its source and leaving the zone's state as it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler import zonefile
from crawler.run import run
from crawler.sources import SourceError
from crawler.zonefetch import ZoneLimits, read_zone, sends_token
from crawler.zonefile import ZoneFileError
from crawler.zonestate import ZoneRead, ZoneSpec
from detect.model import ErrorKind
from sandbox.zones import ZoneServer, corrupt, gz, truncated, zone_text

pytestmark = pytest.mark.sandbox

TOKEN = "czds-access-token-0123456789abcdef"
DAY1 = datetime(2025, 3, 10, 12, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
BASE = [f"site{i}.net" for i in range(5000)]


@pytest.fixture
def server() -> Iterator[ZoneServer]:
    with ZoneServer(TOKEN) as zs:
        yield zs


def limits(**kw: object) -> ZoneLimits:
    return ZoneLimits(**{"max_bytes": 50_000_000, "timeout": 5.0, "token": TOKEN, **kw})  # type: ignore[arg-type]


def read(server: ZoneServer, state: Path, now: datetime, **kw: object) -> ZoneRead | None:
    return run(lambda: read_zone(ZoneSpec("net", url=server.url("net")), state, limits(**kw), now))


def state_files(state: Path) -> list[tuple[str, bytes]]:
    return sorted((p.name, p.read_bytes()) for p in state.iterdir())


def test_day_two_gives_the_names_registered_since_day_one(server: ZoneServer, tmp_path: Path) -> None:
    server.publish("net", gz(zone_text("net", BASE)))
    first = read(server, tmp_path, DAY1)
    assert first is not None and first.first and first.names == len(BASE)
    server.publish("net", gz(zone_text("net", [*BASE[100:], "quill-courier-news.net", "fresh-bakery.net"])))
    second = read(server, tmp_path, DAY2)
    assert second is not None and second.added is not None and second.added_count == 2
    assert list(zonefile.read_sorted(second.added)) == ["fresh-bakery.net", "quill-courier-news.net"]
    assert server.hits("net") == 2


def test_a_zone_read_today_is_not_downloaded_again(server: ZoneServer, tmp_path: Path) -> None:
    server.publish("net", gz(zone_text("net", BASE)))
    read(server, tmp_path, DAY1)
    assert read(server, tmp_path, DAY1 + timedelta(hours=23)) is None
    assert server.hits("net") == 1


def test_without_the_token_the_download_fails_with_its_status(server: ZoneServer, tmp_path: Path) -> None:
    server.publish("net", gz(zone_text("net", BASE)))
    with pytest.raises(SourceError) as info:
        read(server, tmp_path, DAY1, token="")
    assert info.value.status == 401 and server.url("net") in str(info.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("spoil, kind, words", [
    (truncated, ErrorKind.DECODE, "truncated"),
    (corrupt, ErrorKind.DECODE, "gzip"),
    (lambda body: zone_text("net", BASE).decode().encode("utf-16"), ErrorKind.DECODE, "NUL"),
    (lambda body: b"<html>" + b"<p>log in to continue</p>\n" * 3000, ErrorKind.MALFORMED, "not a zone file"),
])
def test_a_bad_file_is_reported_and_the_state_kept(server: ZoneServer, tmp_path: Path, spoil: object,
                                                   kind: ErrorKind, words: str) -> None:
    server.publish("net", gz(zone_text("net", BASE)))
    read(server, tmp_path, DAY1)
    before = state_files(tmp_path)
    server.publish("net", spoil(gz(zone_text("net", [*BASE, *(f"new{i}.net" for i in range(5000))]))))  # type: ignore[operator]
    with pytest.raises(ZoneFileError) as info:
        read(server, tmp_path, DAY2)
    assert info.value.kind is kind and words in str(info.value)
    assert state_files(tmp_path) == before  # no download left behind, the base unchanged
    server.publish("net", gz(zone_text("net", [*BASE, "after-the-bad-day.net"])))
    again = read(server, tmp_path, DAY2 + timedelta(hours=1))  # a failed read is tried again next sweep
    assert again is not None and again.added_count == 1


def test_a_download_over_the_cap_stops_at_the_cap(server: ZoneServer, tmp_path: Path) -> None:
    server.publish("net", gz(zone_text("net", BASE)))
    with pytest.raises(SourceError) as info:
        read(server, tmp_path, DAY1, max_bytes=10_000)
    assert info.value.kind is ErrorKind.TOO_LARGE
    assert not list(tmp_path.iterdir())


def test_a_stalled_download_times_out(server: ZoneServer, tmp_path: Path) -> None:
    server.publish("net", gz(zone_text("net", BASE)))
    server.stalled.add("net")
    with pytest.raises(SourceError) as info:
        read(server, tmp_path, DAY1, timeout=1.0)
    assert info.value.kind is ErrorKind.TIMEOUT
    assert not list(tmp_path.iterdir())


def test_the_token_goes_over_https_or_to_loopback_only() -> None:
    assert sends_token("https://czds-api.icann.org/czds/downloads/net.zone")
    assert sends_token("http://127.0.0.1:8080/czds/downloads/net.zone")
    assert not sends_token("http://czds-api.icann.org/czds/downloads/net.zone")
    assert not sends_token("http://127.0.0.1.evil.example/czds/downloads/net.zone")
