"""Zone files: which names a CZDS file delegates, the external sort, the merge difference, the ways a file
is not a zone file, and the state kept between reads. Files only: no server."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler import zonefile
from crawler.zonefile import ZoneFileError, ZoneStats
from crawler.zonestate import ZoneSpec, ZoneState
from detect.model import ErrorKind
from sandbox.zones import corrupt, gz, truncated, zone_text

pytestmark = pytest.mark.fast

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)


def owners(data: bytes, tld: str = "net") -> list[str]:
    return [n.decode() for n in zonefile.ns_owners(data.splitlines(), tld)]


def test_the_names_are_the_owners_of_ns_records_under_the_tld_normalised() -> None:
    data = zone_text("net", ["Quill-Courier.NET.", "bakery.net", "www.sub.example.net"]) + (
        b"; a comment\n$ORIGIN net.\n"
        b"other.org.\t172800\tin\tns\tns1.other.org.\n"        # another TLD's name
        b"glue.net.\t3600\tin\ta\t192.0.2.1\n"                  # an address, not a delegation
        b"short.net. IN NS ns1.short.net.\n"                    # no TTL, upper-case class and type
        b"ttlafter.net. in 3600 ns ns1.x.\n")                   # class before TTL (RFC 1035 allows it)
    got = owners(data)
    assert got == ["quill-courier.net", "quill-courier.net", "bakery.net", "bakery.net",
                   "www.sub.example.net", "www.sub.example.net", "short.net", "ttlafter.net"]
    assert "net" not in got  # the apex's own NS records are not a registration


def test_rrsig_and_ds_lines_that_mention_ns_are_not_delegations() -> None:
    data = (b"a.net.\t86400\tin\trrsig\tns 8 2 86400 20250401000000 20250301000000 1 net. c2ln\n"
            b"b.net.\t86400\tin\tds\t1 13 2 ABCD\n")
    assert owners(data) == []


def test_sorted_names_are_distinct_and_sorted_across_many_runs(tmp_path: Path) -> None:
    rng = random.Random(7)
    names = [f"n{rng.randrange(5000)}.net".encode() for _ in range(20_000)]
    count = zonefile.sort_names(names, tmp_path / "net.names", run_names=997)
    written = (tmp_path / "net.names").read_bytes().splitlines()
    assert written == sorted(set(names)) and count == len(written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.names"]  # the runs are gone


def test_the_merge_difference_equals_the_set_difference() -> None:
    rng = random.Random(11)
    for _ in range(50):
        old = sorted({f"{rng.randrange(300)}.net".encode() for _ in range(rng.randrange(200))})
        new = sorted({f"{rng.randrange(300)}.net".encode() for _ in range(rng.randrange(200))})
        assert list(zonefile.added_names(old, new)) == sorted(set(new) - set(old))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def read_error(path: Path, max_bytes: int = 0) -> ZoneFileError:
    with pytest.raises(ZoneFileError) as info:
        list(zonefile.ns_owners(zonefile.read_lines(path, max_bytes), "net"))
    return info.value


def test_gzip_and_plain_files_read_alike(tmp_path: Path) -> None:
    text = zone_text("net", [f"site{i}.net" for i in range(100)])
    plain = list(zonefile.read_lines(write(tmp_path / "a.txt", text)))
    packed = list(zonefile.read_lines(write(tmp_path / "a.txt.gz", gz(text))))
    assert plain == packed == text.splitlines()


def test_a_truncated_gzip_file_is_reported_as_truncated(tmp_path: Path) -> None:
    err = read_error(write(tmp_path / "t.gz", truncated(gz(zone_text("net", [f"s{i}.net" for i in range(3000)])))))
    assert err.kind is ErrorKind.DECODE and "truncated" in str(err)


def test_a_corrupt_gzip_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    err = read_error(write(tmp_path / "c.gz", corrupt(gz(zone_text("net", [f"s{i}.net" for i in range(3000)])))))
    assert err.kind is ErrorKind.DECODE and ("corrupt" in str(err) or "truncated" in str(err))


def test_a_utf16_file_is_refused_as_the_wrong_encoding(tmp_path: Path) -> None:
    err = read_error(write(tmp_path / "u.txt", zone_text("net", ["a.net"]).decode().encode("utf-16")))
    assert err.kind is ErrorKind.DECODE and "NUL" in str(err)


def test_a_web_page_is_not_a_zone_file(tmp_path: Path) -> None:
    page = b"<html><body>\n" + b"<p>please log in to continue</p>\n" * 3000 + b"</body></html>\n"
    err = read_error(write(tmp_path / "p.txt", page))
    assert err.kind is ErrorKind.MALFORMED


def test_a_few_odd_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    stats = ZoneStats()
    data = zone_text("net", ["a.net", "b.net"]) + b"garbage\n\xff\xfe.net. in ns x.\n"
    got = list(zonefile.ns_owners(zonefile.read_lines(write(tmp_path / "z", data)), "net", stats))
    assert got == [b"a.net", b"a.net", b"b.net", b"b.net"] and stats.bad == 2


def test_over_the_size_cap_compressed_or_decompressed(tmp_path: Path) -> None:
    text = zone_text("net", [f"s{i}.net" for i in range(2000)])
    assert read_error(write(tmp_path / "big.txt", text), max_bytes=10_000).kind is ErrorKind.TOO_LARGE
    bomb = gz(text + b";" + b" " * 5_000_000 + b"\n")  # small on disk, large once decompressed
    assert len(bomb) < 200_000
    err = read_error(write(tmp_path / "bomb.gz", bomb), max_bytes=1_000_000)
    assert err.kind is ErrorKind.TOO_LARGE and "decompressed" in str(err)


def test_state_first_read_is_the_base_then_each_read_gives_the_added_names(tmp_path: Path) -> None:
    zone = tmp_path / "net.txt.gz"
    state = ZoneState(tmp_path / "state", ZoneSpec("net", path=str(zone)))
    write(zone, gz(zone_text("net", ["a.net", "b.net", "c.net"])))
    first = state.absorb(zone, 0, NOW)
    assert first.first and first.added is None and first.names == 3
    write(zone, gz(zone_text("net", ["a.net", "c.net", "d.net", "e.net"])))  # b dropped, d and e new
    second = state.absorb(zone, 0, NOW + timedelta(days=1))
    assert not second.first and second.added_count == 2 and second.added is not None
    assert list(zonefile.read_sorted(second.added)) == ["d.net", "e.net"]


def test_a_bad_file_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    zone = tmp_path / "net.txt.gz"
    state = ZoneState(tmp_path / "state", ZoneSpec("net", path=str(zone)))
    write(zone, gz(zone_text("net", ["a.net", "b.net"])))
    state.absorb(zone, 0, NOW)
    before = sorted((p.name, p.read_bytes()) for p in (tmp_path / "state").iterdir())
    write(zone, truncated(gz(zone_text("net", [f"s{i}.net" for i in range(3000)]))))
    with pytest.raises(ZoneFileError):
        state.absorb(zone, 0, NOW + timedelta(days=1))
    write(zone, gz(zone_text("org", ["a.org"])))  # another TLD's zone under this one's name
    with pytest.raises(ZoneFileError, match="not this TLD"):
        state.absorb(zone, 0, NOW + timedelta(days=1))
    assert sorted((p.name, p.read_bytes()) for p in (tmp_path / "state").iterdir()) == before


def test_an_unscreened_difference_is_kept_and_joined_by_the_next(tmp_path: Path) -> None:
    zone = tmp_path / "net.txt"
    state = ZoneState(tmp_path / "state", ZoneSpec("net", path=str(zone)))
    for day, names in enumerate([["a.net"], ["a.net", "b.net"], ["a.net", "b.net", "c.net"]]):
        write(zone, zone_text("net", names))
        got = state.absorb(zone, 0, NOW + timedelta(days=day))
    assert got.added is not None and list(zonefile.read_sorted(got.added)) == ["b.net", "c.net"]
    pending = state.pending()
    assert pending is not None and pending.added_count == 2
    state.screened()
    assert state.pending() is None


def test_a_zone_is_due_when_never_read_stale_or_its_file_changed(tmp_path: Path) -> None:
    zone = tmp_path / "net.txt"
    url_state = ZoneState(tmp_path / "s1", ZoneSpec("net", url="https://czds.example/czds/downloads/net.zone"))
    assert url_state.due(NOW, 24)
    write(zone, zone_text("net", ["a.net"]))
    url_state.absorb(zone, 0, NOW)
    assert not url_state.due(NOW + timedelta(hours=23), 24)
    assert url_state.due(NOW + timedelta(hours=24), 24)
    path_state = ZoneState(tmp_path / "s2", ZoneSpec("net", path=str(zone)))
    path_state.absorb(zone, 0, NOW)
    assert not path_state.due(NOW + timedelta(days=9), 24)  # a local file: read again when it changes
    with gzip.open(zone, "wb") as out:
        out.write(zone_text("net", ["a.net", "b.net"]))
    assert path_state.due(NOW, 24)
