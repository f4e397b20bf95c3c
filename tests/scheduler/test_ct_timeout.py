"""The CT search waits `discovery.ct_timeout`, its own key (it used to borrow `rdap.timeout`)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from crawler.run import run
from hydrawatch.bundled import load_signatures
from hydrawatch.config import Config
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from scheduler.hunt_sources import ct_candidates
from storage.store import Store


@pytest.fixture
def silent_ct() -> Iterator[str]:
    """A CT search URL whose server accepts the connection and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/?q={{query}}&output=json"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_silent_ct_search_gives_up_after_ct_timeout_not_rdap_timeout(config: Config, store: Store,
                                                                       silent_ct: str) -> None:
    cfg = config.replace(**{"discovery.ct_search_url": silent_ct, "discovery.ct_timeout": 0.5, "discovery.ct_attempts": 1,
                            "rdap.timeout": 30.0})
    parts = Components.from_settings(cfg, store, load_signatures())
    report = HuntReport()

    async def search() -> float:
        start = time.monotonic()
        assert await ct_candidates(parts, ["washingtonpost.pm"], report) == []
        return time.monotonic() - start

    took = run(search)
    assert took < 10, took
    assert [e.split(": ", 1)[0] for e in report.source_errors] == ["ct washington"], report.source_errors
    assert report.source_errors[0].startswith("ct washington: timeout: ")
    assert report.source_errors[0].endswith("no answer within 0.5s")
