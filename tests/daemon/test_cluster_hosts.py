"""Crawl politeness across the cluster (issue 17): a host with more sites than a crawl batch holds has its
sites split over several batches; cluster mode queues those batches with a procrastinate lock of that
host, so two workers never crawl it at once, as one process never does. Checked at the sandbox's web
server: the host's batches' crawls (first request read to last answer sent) never overlap. (Without the
lock both workers take one of those batches as soon as they are queued and crawl the host at once:
the check fails.) With [crawler] host_delay, that host's requests are host_delay apart across the whole
round, from one batch to the next too, whichever worker runs it: each such batch waits host_delay before
it starts (without that wait the next batch's first request followed the previous one's last answer
by 0.43 s and 0.52 s in a run with host_delay 0.5: the gap check fails)."""

from __future__ import annotations

import itertools
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.daemon.conftest import prepare
from tests.daemon.test_cluster import QUIET, Worker, once, started

pytest.importorskip("procrastinate")

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

HOSTING = {"ns": ["ns1.quillhost.net", "ns2.quillhost.net"]}
BIG = [f"quillnews{i}.info" for i in range(8)]        # one address: more sites than a batch of 3
SMALL = {"quillpress.info": "185.44.12.31", "quillwire.info": "185.44.12.32"}
DELAY = 0.8  # [crawler] host_delay (a batch picked up at once follows the last one by ~0.4-0.5 s here)
TOLERANCE = 0.1  # the server reads a request a connection set-up after it was sent


def _world() -> dict[str, Any]:
    def site(name: str, ip: str) -> dict[str, Any]:
        page = f"<!doctype html><html><head><title>{name}</title></head><body><p>{name} news</p></body></html>"
        # every answer 0.3 s late: a batch's crawl lasts long enough for two at once to overlap
        # plain HTTP only (the https fetch is refused at the proxy and takes its turn): the server reads an
        # https request a TLS handshake later, which shortened the gap to the http one after it (0.65 s at
        # host_delay 0.8 under load; see tests/crawler/test_host_delay.py)
        return {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": page}}, "https": False},
                "behaviours": ["slow-answer"]}

    return {"world": {"name": "big-host", "campaign": "quill", "seeds": sorted([*BIG, *SMALL])},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"}},
            "domains": {**{d: site(d, "185.44.12.20") for d in BIG}, **{d: site(d, ip) for d, ip in SMALL.items()}}}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_workers_never_crawl_a_host_too_big_for_one_batch_at_once(make_sandbox: Callable[..., Sandbox],
                                                                      tmp_path: Path, pg_url: str) -> None:
    sb = make_sandbox(_world(), "before")
    # poll_seconds: a worker looks again soon for the batch whose host lock was just released
    s = prepare(sb, pg_url, tmp_path, schedule=QUIET, crawler={"host_delay": DELAY},
                cluster={"enabled": True, "periodic": False, "observe_batch": 3, "poll_seconds": 0.2},
                discovery={"tlds": ["info"], "fuzzers": ["tld-swap"]}, rdap={"cache_hours": 0})
    workers = [Worker(s.config, tmp_path / f"worker{i}.log", "--concurrency", "2") for i in range(2)]
    try:
        for w in workers:
            started(w)
        once(s.config)  # the first round knows no address yet: every site is a host of its own
        sb.reset("before")
        stats = once(s.config)
        assert stats["probed"] == stats["crawled"] == len(BIG) + len(SMALL)
        cycle = s.view.scalar("SELECT max(id) FROM cycles WHERE kind = 'cycle'")
        jobs = s.view.rows("SELECT args, lock FROM procrastinate_jobs WHERE args->>'kind' = 'observe' "
                           "AND (args->>'crawl')::boolean AND status = 'succeeded' AND (args->>'parent')::int = :c "
                           "ORDER BY id", c=cycle)
        batches = [(json.loads(a) if isinstance(a, str) else a, lock) for a, lock in jobs]
        # 8 sites on one address in batches of 3: three batches carry them, each with the host's lock
        serial = [set(args["domains"]) for args, lock in batches if lock == "hydrawatch:host:185.44.12.20"]
        assert len(serial) == 3 and set().union(*serial) >= set(BIG), batches
        assert all(args.get("host") == "185.44.12.20" for args, lock in batches if lock), batches
        assert [lock for args, lock in batches if not set(args["domains"]) & set(BIG)] == [None] * (len(batches) - 3)
        # at the web server: each of those batches' requests to the big host, first read to last answer sent
        times = sb.site_request_times
        windows = sorted((min(t0 for t0, _, h in mine), max(t1 for _, t1, h in mine))
                         for mine in ([t for t in times if t[2] in batch and t[2] in BIG] for batch in serial))
        assert all(end > start for start, end in windows)
        assert len(windows) == 3
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(windows)), windows
        # host_delay: from one batch's last answer to the next one's first request, and between any two
        # requests to the host's address in the round
        gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(windows)]
        assert min(gaps) >= DELAY - TOLERANCE, gaps
        reads = [b - a for a, b in itertools.pairwise(sorted(t0 for t0, _, h in times if h in BIG))]
        assert min(reads) >= DELAY - TOLERANCE and sum(reads) / len(reads) >= DELAY, reads
    finally:
        for w in workers:
            w.signal(signal.SIGTERM)
        for w in workers:
            assert w.wait(30) == 0, w.log[-3000:]
        s.view.close()
