"""WHOIS politeness across the cluster (issue 17): WHOIS servers ban by address, so port 43 gets the RDAP
servers' gate (scheduler/server_gate.py, kind "whois"). Two workers' WHOIS clients, each with its own gate
(its own PostgreSQL connections, as two `hydrawatch worker` processes have), ask the sandbox's WHOIS server
one query at a time and at one pace (rdap.whois_max_per_minute, measured where the server reads the
queries); a "query limit exceeded" one worker meets pauses the other; a worker killed holding a server's
turn blocks nobody; a worker wires the gate in, and takes it out when it stops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("procrastinate")

import psycopg

from crawler.rdap import Gate, no_gate
from crawler.run import run
from crawler.whois import WhoisClient
from detect.model import ErrorKind, RdapRecord
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from sandbox.net import Sandbox
from scheduler import cluster
from scheduler.cluster import conninfo
from scheduler.components import Components
from scheduler.server_gate import ServerGate
from storage.store import Store
from tests.scheduler.test_rdap_gate import _enter, _gaps

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

NOW = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)
FAST = 6000  # queries a minute: a pace that does not slow the tests about something else
JITTER = 0.1  # seconds: a query's way from the gate to the server's clock differs by up to this


def whois(sb: Sandbox, gate: Gate, per_minute: int = FAST, max_wait: float = 300.0) -> WhoisClient:
    client = WhoisClient(sb.config_overrides()["rdap"]["whois_servers"], timeout=10, max_per_minute=per_minute,
                         max_wait=max_wait, allow_private=True)
    client.gate = gate
    return client


async def gates(url: str, count: int, **settings: float) -> list[ServerGate]:
    opened = [ServerGate(conninfo(url), kind="whois", **settings) for _ in range(count)]  # type: ignore[arg-type]
    for gate in opened:
        await gate.open()
    return opened


def two_workers(sb: Sandbox, url: str | None, names: list[str], per_minute: int) -> list[RdapRecord]:
    """Two workers (two clients, two gates when ``url``) look up half the names each, all at once."""

    async def main() -> list[RdapRecord]:
        opened = await gates(url, 2, per_minute=per_minute, max_wait=10) if url else []
        try:
            first, second = (whois(sb, opened[i] if opened else no_gate, per_minute) for i in range(2))
            half = len(names) // 2
            return list(await asyncio.gather(*(first.lookup(n, now=NOW) for n in names[:half]),
                                             *(second.lookup(n, now=NOW) for n in names[half:])))
        finally:
            for gate in opened:
                await gate.close()

    return run(main)


def test_two_workers_ask_one_whois_server_one_query_at_a_time(sandbox: Sandbox, pg_url: str) -> None:
    names = sorted(sandbox.seeds)[:4]
    sandbox.set_service_behaviour("whois", "whois-slow")  # each answer 0.3 s late
    free = two_workers(sandbox, None, names, FAST)
    assert sandbox.whois_peak >= 2  # without the gate the workers (and each worker's tasks) overlap
    sandbox.reset()
    sandbox.set_service_behaviour("whois", "whois-slow")
    gated = two_workers(sandbox, pg_url, names, FAST)
    assert sandbox.whois_peak == 1
    assert sorted(sandbox.whois_queries) == names
    assert [(r.domain, r.error_kind, r.registrar) for r in gated] == [(r.domain, r.error_kind, r.registrar) for r in free]
    assert all(r.error_kind is None and r.source == "whois" for r in gated), gated


def test_two_workers_keep_one_pace_per_whois_server(sandbox: Sandbox, pg_url: str) -> None:
    """120 a minute: each worker's own budget would let its first 20 go at once; across the cluster the
    query starts are 0.5 s apart, whichever worker makes them."""
    sandbox.reset()
    names = sorted(sandbox.seeds)[:4]
    free = two_workers(sandbox, None, names, 120)
    assert min(_gaps(sandbox.whois_request_times)) < 0.25  # each worker alone: a burst
    sandbox.reset()
    paced = two_workers(sandbox, pg_url, names, 120)
    times = sandbox.whois_request_times
    assert len(times) == 4
    assert min(_gaps(times)) >= 0.5 - JITTER, _gaps(times)
    assert [(r.domain, r.error_kind) for r in paced] == [(r.domain, r.error_kind) for r in free]


def test_a_query_limit_one_worker_meets_keeps_the_other_away(sandbox: Sandbox, pg_url: str) -> None:
    """The server answers "query rate limit exceeded" to the first worker: the server is left alone for a
    minute by every worker, so the second (rdap.max_wait 10 s; its own budget knows of nothing) does not
    ask at all."""
    sandbox.reset()
    sandbox.set_service_behaviour("whois", "whois-limit")
    first_name, second_name = sorted(sandbox.seeds)[:2]

    async def main() -> tuple[RdapRecord, RdapRecord]:
        opened = await gates(pg_url, 2, per_minute=FAST, max_wait=10)
        try:
            first, second = (whois(sandbox, gate, max_wait=10) for gate in opened)
            told = await first.lookup(first_name, now=NOW)
            return told, await second.lookup(second_name, now=NOW)
        finally:
            for gate in opened:
                await gate.close()

    told, kept_away = run(main)
    assert told.error_kind is ErrorKind.RATE_LIMITED and "query limit is exceeded" in told.error
    assert kept_away.error_kind is ErrorKind.RATE_LIMITED and "not asked" in kept_away.error, kept_away.error
    assert sandbox.whois_queries == [first_name]


def test_the_rdap_and_the_whois_gate_of_one_host_are_apart(pg_url: str) -> None:
    async def main() -> None:
        rdap = ServerGate(conninfo(pg_url), kind="rdap", per_minute=FAST)
        port43 = ServerGate(conninfo(pg_url), kind="whois", per_minute=FAST)
        again = ServerGate(conninfo(pg_url), kind="whois", per_minute=FAST)
        for gate in (rdap, port43, again):
            await gate.open()
        try:
            # another kind on the same server: no wait
            async with rdap("registry.example:43"), asyncio.timeout(5), port43("registry.example:43"):
                waiting = asyncio.ensure_future(_enter(again, "registry.example:43"))
                await asyncio.sleep(0.5)
                assert not waiting.done()  # the same kind and server: waits
            async with asyncio.timeout(5):
                await waiting
        finally:
            for gate in (rdap, port43, again):
                await gate.close()

    run(main)
    with pytest.raises(ValueError, match="unknown server gate kind"):
        ServerGate(conninfo(pg_url), kind="rdap_pace; DROP TABLE x")


def test_a_worker_holds_the_whois_gate_around_its_queries(sandbox: Sandbox, pg_url: str, tmp_path: Path) -> None:
    """End to end through `cluster.work` (what `hydrawatch worker` runs): while the worker runs, a lookup
    its components make for a TLD without RDAP goes over port 43 to the sandbox through the cluster's
    WHOIS gate (the server's row in ``whois_pace`` moves on by 60/whois_max_per_minute); once it stops,
    the client is back to no gate."""
    sandbox.reset()
    sandbox.set_phase("seizure")
    over = sandbox.config_overrides()
    rdap = {**over["rdap"], "servers": {"*": over["rdap"]["servers"]["*"]}, "whois_max_per_minute": 2,
            "cache_hours": 0}
    cfg = from_mapping({**over, "rdap": rdap, "storage": {"url": pg_url}, "cluster": {"enabled": True}},
                       source="(test)")
    store = Store.from_url(pg_url)
    store.init()
    cluster.apply_schema(pg_url)
    parts = Components.from_settings(cfg, store, load_signatures())
    client = parts.rdap.whois
    assert client is not None and parts.rdap.route("rrn.so") == ("whois", "")

    async def main() -> RdapRecord:
        stop = asyncio.Event()
        worker = asyncio.ensure_future(cluster.work(parts, stop=stop))
        try:
            async with asyncio.timeout(30):
                while not isinstance(client.gate, ServerGate):
                    await asyncio.sleep(0.05)
            assert client.gate.kind == "whois"
            return await parts.rdap.lookup("rrn.so", now=NOW)
        finally:
            stop.set()
            await worker
            await parts.close()

    try:
        record = run(main)
    finally:
        store.close()
    assert record.error_kind is None and record.source == "whois", record.error
    assert sandbox.whois_queries == ["rrn.so"]
    assert client.gate is no_gate
    with psycopg.connect(conninfo(pg_url)) as conn:
        row = conn.execute("SELECT host, EXTRACT(EPOCH FROM next_allowed_at - now())::float8 FROM whois_pace").fetchone()
    assert row is not None and row[0] == over["rdap"]["whois_servers"]["so"], row
    assert 20 < row[1] <= 30  # two a minute: the next query to it not before 30 s after this one
