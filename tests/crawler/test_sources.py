"""RDAP, CT search and NRD feeds against real loopback servers."""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.ct import ct_search, names_from
from crawler.feeds import FeedStats, parse_line, read_feed, read_feed_batches
from crawler.rdap import RdapClient, load_bootstrap, status_name
from crawler.run import run
from crawler.settings import RdapSettings
from crawler.sources import SourceError
from detect.model import ErrorKind
from tests.crawler.servers import HostileSite, response

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

RDAP_OK = {
    "objectClassName": "domain", "ldhName": "EXAMPLE.PM",
    "status": ["client hold", "serverDeleteProhibited"],
    "events": [{"eventAction": "registration", "eventDate": "2024-09-05T10:00:00Z"},
               {"eventAction": "expiration", "eventDate": "2025-09-05T10:00:00Z"},
               {"eventAction": "last changed", "eventDate": "2024-09-04T16:20:00Z"}],
    "nameservers": [{"ldhName": "NS1.FBI.SEIZED.GOV."}, {"ldhName": "ns2.fbi.seized.gov"}],
    "entities": [{"roles": ["registrar"], "handle": "1234",
                  "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Registrar"]]]}],
}


def rdap_site() -> HostileSite:
    site = HostileSite()
    hits: dict[str, int] = {}

    async def domain(target: str, headers: dict[str, str], w: asyncio.StreamWriter) -> None:
        name = target.rsplit("/", 1)[1]
        hits[name] = hits.get(name, 0) + 1
        if name.startswith("ok."):
            w.write(response(200, json.dumps(RDAP_OK).encode(), {"Content-Type": "application/rdap+json"}))
        elif name.startswith("busy."):
            w.write(response(429, b"slow down", {"Retry-After": "1"}))
        elif name.startswith("broken."):
            w.write(response(500, b"oops"))
        elif name.startswith("garbled."):
            w.write(response(200, b"{not json", {"Content-Type": "application/rdap+json"}))
        elif name.startswith("big."):
            w.write(response(200, b"[" + b"0," * 1_000_000 + b"0]"))
        elif name.startswith("slow."):
            await asyncio.sleep(3)
        else:
            w.write(response(404, b'{"errorCode":404}'))

    for n in ("ok.pm", "busy.pm", "broken.pm", "garbled.pm", "big.pm", "slow.pm", "gone.pm"):
        site.routes[f"/rdap/domain/{n}"] = domain
    site.hits = hits  # type: ignore[attr-defined]
    return site


def test_rdap_outcomes_ok_404_429_500_malformed_too_large_timeout() -> None:
    async def main() -> None:
        async with rdap_site() as site:
            client = RdapClient.from_settings(
                RdapSettings(servers={"pm": f"http://127.0.0.1:{site.port}/rdap/"}, timeout=1.5))
            ok = await client.lookup("ok.pm", now=NOW)
            assert ok.error_kind is None and ok.http_status == 200
            assert ok.registrar == "Example Registrar"
            assert ok.registered == datetime(2024, 9, 5, 10, tzinfo=UTC)
            assert ok.expires == datetime(2025, 9, 5, 10, tzinfo=UTC)
            assert ok.changed == datetime(2024, 9, 4, 16, 20, tzinfo=UTC)  # the registry's "last changed"
            assert ok.statuses == ("client hold", "server delete prohibited")
            assert ok.nameservers == ("ns1.fbi.seized.gov", "ns2.fbi.seized.gov")
            assert json.loads(ok.raw)["ldhName"] == "EXAMPLE.PM" and ok.observed_at == NOW
            gone = await client.lookup("gone.pm", now=NOW)
            assert (gone.http_status, gone.error_kind, gone.error) == (404, ErrorKind.HTTP, "not found")
            started = time.monotonic()
            busy = await client.lookup("busy.pm", now=NOW)
            # asked again once after its Retry-After (1 s), still 429: rate_limited, not a generic HTTP failure
            assert busy.http_status == 429 and busy.error_kind is ErrorKind.RATE_LIMITED
            assert "Retry-After 1s" in busy.error
            assert time.monotonic() - started >= 0.9 and site.hits["busy.pm"] == 2  # type: ignore[attr-defined]
            broken = await client.lookup("broken.pm", now=NOW)
            assert broken.http_status == 500 and broken.error_kind is ErrorKind.HTTP
            assert (await client.lookup("garbled.pm", now=NOW)).error_kind is ErrorKind.MALFORMED
            assert (await client.lookup("big.pm", now=NOW)).error_kind is ErrorKind.TOO_LARGE
            assert (await client.lookup("slow.pm", now=NOW)).error_kind is ErrorKind.TIMEOUT
            # an answer is reused for cache_hours, unless asked fresh (the domain's DNS just changed)
            hits = site.hits["ok.pm"]  # type: ignore[attr-defined]
            assert (await client.lookup("ok.pm", now=NOW)).registrar == "Example Registrar"
            assert site.hits["ok.pm"] == hits  # type: ignore[attr-defined]
            assert (await client.lookup("ok.pm", now=NOW, fresh=True)).changed == ok.changed
            assert site.hits["ok.pm"] == hits + 1  # type: ignore[attr-defined]
    run(main)


def test_rdap_server_choice_override_bootstrap_fallback() -> None:
    boot = load_bootstrap()
    assert boot["cz"] == "https://rdap.nic.cz/" and boot["news"].startswith("https://rdap.identitydigital")
    client = RdapClient({"pm": "http://a/", "*": "http://fallback/"}, boot, 1.0)
    assert client.server_for("x.pm") == "http://a/"
    assert client.server_for("x.cz") == "https://rdap.nic.cz/"
    assert client.server_for("x.unknowntld") == "http://fallback/"
    assert RdapClient({}, boot, 1.0).server_for("x.unknowntld") is None
    assert status_name("clientHold") == "client hold" and status_name("server hold") == "server hold"


def test_bundled_bootstrap_is_the_complete_iana_file() -> None:
    """config/rdap/dns.json is IANA's whole dns.json (not the old 128-TLD excerpt), read via package data."""
    text = importlib.resources.files("hydrawatch.resources").joinpath("rdap/dns.json").read_text("utf-8")
    doc = json.loads(text)
    assert set(doc) == {"description", "publication", "services", "version"}
    tlds = [tld for tlds, _ in doc["services"] for tld in tlds]
    assert len(tlds) == len(set(tlds)) > 1000  # no TLD served twice; the excerpt had 128
    assert all(u.startswith(("https://", "http://")) and u.endswith("/") for _, urls in doc["services"] for u in urls)
    boot = load_bootstrap()
    for tld in ("com", "net", "org", "fr", "pm", "cc", "to", "in", "top", "xyz", "info", "ltd", "press"):
        assert boot[tld].startswith("https://"), tld
    assert boot["com"] == "https://rdap.verisign.com/com/v1/"
    assert boot["net"] == "https://rdap.verisign.com/net/v1/"
    assert boot["org"] == "https://rdap.publicinterestregistry.org/rdap/"
    assert boot["pm"] == "https://rdap.nic.pm/"
    client = RdapClient({}, boot, 1.0)
    assert client.server_for("example.com") == "https://rdap.verisign.com/com/v1/"
    assert client.server_for("WWW.Example.COM.") == "https://rdap.verisign.com/com/v1/"
    # an explicit [rdap] servers entry still beats the (now complete) bootstrap
    assert RdapClient({"com": "http://127.0.0.1:9/"}, boot, 1.0).server_for("example.com") == "http://127.0.0.1:9/"


def test_ct_search_parses_names_and_survives_garbage() -> None:
    rows = [{"name_value": "*.Washingtonpost.pm\nwashingtonpost.pm", "common_name": "washingtonpost.pm"},
            {"name_value": "mail.washingtonpost.pm\n<script>", "common_name": None}, "junk"]

    async def main() -> None:
        site = HostileSite()
        seen: list[str] = []

        async def ct(target: str, headers: dict[str, str], w: asyncio.StreamWriter) -> None:
            seen.append(target)
            if "garbage" in target:
                w.write(response(200, b"<html>502 bad gateway</html>"))
            elif "down" in target:
                w.write(response(503, b"down"))
            else:
                w.write(response(200, json.dumps(rows).encode(), {"Content-Type": "application/json"}))

        site.routes["/"] = ct
        async with site:
            template = f"http://127.0.0.1:{site.port}/?q={{query}}&output=json"
            good = await ct_search(template, "washingtonpost")
            assert good.error_kind is None
            assert good.names == ("mail.washingtonpost.pm", "washingtonpost.pm")
            assert seen[0] == "/?q=%25washingtonpost%25&output=json"
            bad = await ct_search(template, "garbage")
            assert bad.error_kind is ErrorKind.MALFORMED and bad.names == ()
            down = await ct_search(template, "down")
            assert down.error_kind is ErrorKind.HTTP
            closed = await ct_search("http://127.0.0.1:1/?q={query}", "x", timeout=2)
            assert closed.error_kind is ErrorKind.CONNECTION
    run(main)
    assert names_from([]) == ()


FEED = "# newly registered\nrrn.so\nWashingtonPost.PM.\n\nnot a domain!!\nfox-news.top,2024-09-05\n" \
       "xn--80ak6aa92e.com\n-bad-.com\n"


def test_feed_from_file_and_url_streams_names_and_counts_garbage(tmp_path: Path) -> None:
    file = tmp_path / "nrd.txt"
    file.write_text(FEED)

    async def main() -> None:
        stats = FeedStats(str(file))
        names = [n async for n in read_feed(str(file), stats=stats)]
        assert names == ["rrn.so", "washingtonpost.pm", "fox-news.top", "xn--80ak6aa92e.com"]
        assert (stats.names, stats.skipped, stats.comments) == (4, 2, 2)

        site = HostileSite()
        big = "".join(f"n{i}.example\n" for i in range(200_000)).encode()

        async def feed(target: str, headers: dict[str, str], w: asyncio.StreamWriter) -> None:
            w.write(response(200, FEED.encode() if "small" in target else big))

        site.routes["/small.txt"] = feed
        site.routes["/big.txt"] = feed
        async with site:
            url = f"http://127.0.0.1:{site.port}"
            assert [n async for n in read_feed(url + "/small.txt")] == names
            total = 0
            async for batch in read_feed_batches(url + "/big.txt", batch_size=50_000):
                assert len(batch) <= 50_000
                total += len(batch)
            assert total == 200_000
            with pytest.raises(SourceError) as missing:
                [n async for n in read_feed(url + "/missing.txt")]
            assert missing.value.kind is ErrorKind.HTTP
    run(main)
    assert parse_line("  # c") == "" and parse_line("x") is None
