"""RDAP politeness across the cluster (issue 17): two workers' RDAP clients, each with its own gate (its
own PostgreSQL connections, as two `hydrawatch worker` processes have), ask the sandbox's slow RDAP
server one request at a time; without the gate the same lookups overlap. Different servers do not wait
for each other. Both workers keep one pace per server (rdap.max_per_minute, measured where the sandbox's
server reads the requests) and one Retry-After; a worker killed holding a server's turn blocks nobody."""

from __future__ import annotations

import asyncio
import itertools
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

pytest.importorskip("procrastinate")

from crawler.rdap import Gate, RdapClient, ServerPaused, no_gate
from crawler.run import run
from crawler.settings import RdapSettings
from detect.model import ErrorKind, RdapRecord
from sandbox.net import Sandbox
from scheduler.cluster import conninfo
from scheduler.server_gate import ServerGate

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

NOW = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)


FAST = 6000  # requests a minute: a pace that does not slow the tests about something else
JITTER = 0.1  # seconds: a request's way from the gate to the server's clock differs by up to this


def client(sb: Sandbox, gate: Gate, per_minute: int = FAST) -> RdapClient:
    rdap = RdapClient.from_settings(RdapSettings(servers=sb.config_overrides()["rdap"]["servers"], timeout=10,
                                                 cache_hours=0, max_per_minute=per_minute))
    rdap.gate = gate
    return rdap


def lookups(sb: Sandbox, url: str | None) -> list[RdapRecord]:
    """Two workers (two clients, two gates when ``url``) look up three names each, all at once."""
    names = sorted(sb.seeds)[:6]

    async def main() -> list[RdapRecord]:
        gates = [ServerGate(conninfo(url), per_minute=FAST) for _ in range(2)] if url else []
        for gate in gates:
            await gate.open()
        try:
            first, second = (client(sb, gates[i] if gates else no_gate) for i in range(2))
            return list(await asyncio.gather(*(first.lookup(n, now=NOW) for n in names[:3]),
                                             *(second.lookup(n, now=NOW) for n in names[3:])))
        finally:
            for gate in gates:
                await gate.close()

    return run(main)


def test_two_workers_ask_one_rdap_server_one_request_at_a_time(sandbox: Sandbox, pg_url: str) -> None:
    sandbox.set_service_behaviour("rdap", "rdap-slow")  # each answer 0.3 s late
    free = lookups(sandbox, None)
    assert sandbox.rdap_peak >= 2  # without the gate the workers (and each worker's tasks) overlap
    sandbox.reset()
    sandbox.set_service_behaviour("rdap", "rdap-slow")
    gated = lookups(sandbox, pg_url)
    assert sandbox.rdap_peak == 1
    assert len(sandbox.rdap_requests) == 6
    assert [(r.domain, r.error_kind, r.registrar) for r in gated] == [(r.domain, r.error_kind, r.registrar) for r in free]
    assert all(r.error_kind is None for r in gated), gated


def test_the_gate_holds_one_server_for_one_worker_and_lets_other_servers_go(pg_url: str) -> None:
    async def main() -> None:
        one, other = ServerGate(conninfo(pg_url), per_minute=FAST), ServerGate(conninfo(pg_url), per_minute=FAST)
        await one.open()
        await other.open()
        try:
            async with one("rdap.example:443"):
                async with asyncio.timeout(5), other("rdap.other.example:443"):
                    pass  # another server: no wait
                waiting = asyncio.ensure_future(_enter(other, "rdap.example:443"))
                await asyncio.sleep(0.5)
                assert not waiting.done()  # the same server: waits for the first worker …
            async with asyncio.timeout(5):
                await waiting  # … and goes once it is done
        finally:
            await one.close()
            await other.close()

    run(main)


async def _enter(gate: ServerGate, host: str) -> None:
    async with gate(host):
        pass


def test_two_workers_keep_one_pace_per_rdap_server(sandbox: Sandbox, pg_url: str) -> None:
    """120 a minute: each worker's own budget would let its first 20 go at once; across the cluster the
    request starts are 0.5 s apart, whichever worker makes them."""
    sandbox.reset()
    names = sorted(sandbox.seeds)[:4]

    async def main(gated: bool) -> list[RdapRecord]:
        gates = [ServerGate(conninfo(pg_url), per_minute=120, max_wait=10) for _ in range(2)] if gated else []
        for gate in gates:
            await gate.open()
        try:
            first, second = (client(sandbox, gates[i] if gates else no_gate, per_minute=120) for i in range(2))
            return list(await asyncio.gather(*(first.lookup(n, now=NOW) for n in names[:2]),
                                             *(second.lookup(n, now=NOW) for n in names[2:])))
        finally:
            for gate in gates:
                await gate.close()

    free = run(lambda: main(False))
    assert min(_gaps(sandbox.rdap_request_times)) < 0.25  # each worker alone: a burst
    sandbox.reset()
    paced = run(lambda: main(True))
    times = sandbox.rdap_request_times
    assert len(times) == 4
    assert min(_gaps(times)) >= 0.5 - JITTER, _gaps(times)
    assert [(r.domain, r.error_kind) for r in paced] == [(r.domain, r.error_kind) for r in free]


def test_a_retry_after_one_worker_is_told_pauses_the_other(sandbox: Sandbox, pg_url: str) -> None:
    """The first worker's name answers 429 "Retry-After: 2"; the second worker, asking about another name
    meanwhile, waits until that deadline; a third, whose rdap.max_wait (1 s) is shorter than the pause
    the first worker's retry was told, does not ask at all."""
    sandbox.reset()
    bad, good, other = sorted(sandbox.seeds)[:3]
    sandbox.set_behaviour(bad, "rdap-429")

    async def main() -> tuple[RdapRecord, RdapRecord, RdapRecord]:
        gates = [ServerGate(conninfo(pg_url), per_minute=FAST, max_wait=wait) for wait in (10, 10, 1)]
        for gate in gates:
            await gate.open()
        try:
            first, second, third = (client(sandbox, gate) for gate in gates)
            told = asyncio.ensure_future(first.lookup(bad, now=NOW))
            async with asyncio.timeout(5):
                while not sandbox.rdap_requests:
                    await asyncio.sleep(0.01)
            waited = await second.lookup(good, now=NOW)  # the second worker's budget knows of no pause
            refused = await told  # its retry, 2 s on, is told 429 again: the server is paused anew …
            return refused, waited, await third.lookup(other, now=NOW)  # … past the third's max_wait
        finally:
            for gate in gates:
                await gate.close()

    refused, waited, not_asked = run(main)
    asked, times = sandbox.rdap_requests, sandbox.rdap_request_times
    assert asked[0] == bad and sorted(asked) == sorted([bad, bad, good]), asked
    assert times[asked.index(good)] - times[0] >= 2 - JITTER
    assert waited.error_kind is None
    assert refused.error_kind is ErrorKind.RATE_LIMITED and refused.http_status == 429
    assert not_asked.error_kind is ErrorKind.RATE_LIMITED and "not asked" in not_asked.error, not_asked.error


HOLDER = """
import asyncio, sys
from scheduler.server_gate import ServerGate

async def main() -> None:
    gate = ServerGate(sys.argv[1], kind=sys.argv[2], per_minute=1)  # its turn would close the server for a minute
    await gate.open()
    async with gate(sys.argv[3]):
        print("holding", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.parametrize(("kind", "host"), [("rdap", "rdap.example:443"), ("whois", "whois.example:43")])
def test_a_worker_killed_holding_a_servers_turn_blocks_nobody(pg_url: str, kind: str, host: str) -> None:
    """kill -9 of a worker in the middle of a request (RDAP) or query (WHOIS): PostgreSQL ends its session,
    so the lock goes at once and its turn (one a minute) is rolled back with it: the other worker goes
    without waiting."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, conninfo(pg_url), kind, host],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"

        async def main() -> float:
            other = ServerGate(conninfo(pg_url), kind=kind, per_minute=FAST, max_wait=10)
            await other.open()
            try:
                waiting = asyncio.ensure_future(_enter(other, host))
                await asyncio.sleep(0.5)
                assert not waiting.done()  # held by the other process
                holder.kill()
                killed = time.monotonic()
                async with asyncio.timeout(5):
                    await waiting
                return time.monotonic() - killed
            finally:
                await other.close()

        assert run(main) < 2.0
    finally:
        holder.kill()
        holder.wait()


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_a_server_lock_held_by_a_stuck_worker_keeps_the_other_out_only_max_wait(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A worker alive but stuck holding a server's turn (its session never ends, so PostgreSQL never
    releases the lock): the other waits for that lock at most ``max_wait`` (PostgreSQL's lock_timeout),
    then does not ask (ServerPaused: reported rate_limited) and says so in one warning line naming the
    server. (Before, it waited for as long as the holder lived.)"""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, conninfo(pg_url), "rdap", "rdap.example:443"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"

        async def main() -> None:
            other = ServerGate(conninfo(pg_url), kind="rdap", per_minute=FAST, max_wait=1)
            await other.open()
            try:
                async with asyncio.timeout(30):  # the holder sleeps 60 s: only the bound ends the wait
                    with pytest.raises(ServerPaused):
                        await _enter(other, "rdap.example:443")
                    async with other("rdap.other.example:443"):  # the gate still works for other servers
                        pass
            finally:
                await other.close()

        with caplog.at_level(logging.WARNING, logger="scheduler.server_gate"):
            run(main)
        lines = [r.getMessage() for r in caplog.records if r.name == "scheduler.server_gate"]
        assert lines == [("RDAP gate for rdap.example:443: no turn within 1 s (another worker holds the server's "
                         "lock; rdap.max_wait): not asked")], lines
        assert holder.poll() is None  # it was still holding the lock all along
    finally:
        holder.kill()
        holder.wait()
