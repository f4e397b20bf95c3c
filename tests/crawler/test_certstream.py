"""A live CT stream from a loopback CertStream-compatible server (sandbox/certstream.py): names from
full-stream and domains-only messages, heartbeats and garbage ignored, listening bounded in time, a
server that is not there a typed error; in a hunt the names go through the NRD name screen."""

from __future__ import annotations

import socket
import time

import pytest

from crawler.certstream import StreamStats, listen, names_in
from crawler.run import run
from detect.model import ErrorKind
from hydrawatch.bundled import load_signatures
from hydrawatch.config import Config
from sandbox.certstream import CertStreamServer, certificate
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from scheduler.hunt_sources import certstream_candidates
from scheduler.name_screen import NameScreen
from storage.store import Store

MESSAGES = [
    certificate("quillcourier-news.com", "*.quillcourier-news.com", "www.quillcourier-news.com"),
    "this is not json",
    {"message_type": "dns_entries", "data": ["garden-benches.shop", "bad name", 7]},
    {"message_type": "heartbeat", "timestamp": 1.0},
    certificate("quilcourier.press"),
]


def test_names_in_reads_both_message_kinds_and_ignores_the_rest() -> None:
    assert list(names_in(certificate("A.example.com", "*.b.example.org")) or []) == ["a.example.com", "b.example.org"]
    assert list(names_in({"message_type": "dns_entries", "data": ["x.com"]}) or []) == ["x.com"]
    assert names_in({"message_type": "heartbeat"}) is None and names_in([1, 2]) is None


def _listen(url: str, seconds: float) -> tuple[list[str], StreamStats]:
    stats = StreamStats(url)

    async def go() -> list[str]:
        return [n async for n in listen(url, seconds, stats, open_timeout=2.0)]
    return run(go), stats


def test_a_stream_is_listened_to_for_its_seconds_and_yields_every_valid_name() -> None:
    with CertStreamServer(MESSAGES) as server:
        started = time.monotonic()
        names, stats = _listen(server.url, 1.0)
        took = time.monotonic() - started
    assert names == ["quillcourier-news.com", "quillcourier-news.com", "www.quillcourier-news.com",
                     "garden-benches.shop", "quilcourier.press"]
    assert (stats.certificates, stats.garbage, stats.error_kind) == (3, 1, None)
    assert stats.messages > len(MESSAGES)  # heartbeats kept coming until the second was over
    assert 0.9 <= took < 10


def test_a_server_that_is_not_there_is_a_typed_error_not_an_exception() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    names, stats = _listen(f"ws://127.0.0.1:{port}/", 1.0)
    assert names == [] and stats.error_kind is ErrorKind.CONNECTION and str(port) in stats.error


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_in_a_hunt_only_names_close_to_the_network_labels_pass(config: Config, store: Store) -> None:
    with CertStreamServer(MESSAGES) as server:
        cfg = config.replace(**{"discovery.certstream_url": server.url, "discovery.certstream_seconds": 1.0})
        parts = Components.from_settings(cfg, store, load_signatures())
        screen = NameScreen(parts.prober, ["quillcourier"], (), cap=1000)
        report = HuntReport()

        async def hunt() -> list[str]:
            return [c.domain async for c in certstream_candidates(parts, screen, report)]
        found = run(hunt)
    assert "garden-benches.shop" not in found and "quilcourier.press" in found, found
    assert report.source_errors == []
    assert report.source_notes == [f"certstream {server.url}: 3 certificates, 5 names, 1 unreadable messages"]
