"""One RDAP caller per server across the cluster (issue 17): two workers' RDAP clients, each with its
own gate (its own PostgreSQL connections, as two `hydrawatch worker` processes have), ask the sandbox's
slow RDAP server one request at a time; without the gate the same lookups overlap. Different servers
do not wait for each other."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

pytest.importorskip("procrastinate")

from crawler.rdap import Gate, RdapClient, no_gate
from crawler.run import run
from crawler.settings import RdapSettings
from detect.model import RdapRecord
from sandbox.net import Sandbox
from scheduler.cluster import conninfo
from scheduler.rdap_gate import ServerGate

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

NOW = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)


def client(sb: Sandbox, gate: Gate) -> RdapClient:
    rdap = RdapClient.from_settings(RdapSettings(servers=sb.config_overrides()["rdap"]["servers"], timeout=10,
                                                 cache_hours=0))
    rdap.gate = gate
    return rdap


def lookups(sb: Sandbox, url: str | None) -> list[RdapRecord]:
    """Two workers (two clients, two gates when ``url``) look up three names each, all at once."""
    names = sorted(sb.seeds)[:6]

    async def main() -> list[RdapRecord]:
        gates = [ServerGate(conninfo(url)) for _ in range(2)] if url else []
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
        one, other = ServerGate(conninfo(pg_url)), ServerGate(conninfo(pg_url))
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
