"""The synchronous bulk sweep (crawler/dnsfast.py) against tiny real DNS servers on loopback: the
same outcomes as the asyncio prober for every server behaviour, name by name."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from crawler.dns import Prober
from crawler.settings import DnsSettings
from detect.model import RECORD_TYPES, DnsResult, Rcode
from tests.crawler import nanodns
from tests.crawler.nanodns import NanoServer

if TYPE_CHECKING:
    from crawler.dnsfast import FastSweep

NAMES = ["example.test", "Example.TEST.", "www.example.test", "noaddr.test", "gone.test", "bad..name",
         "x" * 70 + ".test"] + [f"n{i}.test" for i in range(40)]


def prober_for(*servers: NanoServer, timeout: float = 0.3, retries: int = 1, concurrency: int = 64) -> Prober:
    return Prober.from_settings(DnsSettings(nameservers=[s.address for s in servers], timeout=timeout,
                                        retries=retries, concurrency=concurrency))


def same(results: dict[str, DnsResult]) -> dict[str, tuple[str, str, list[tuple[str, list[str]]], str]]:
    """What must agree: rcode, error, the types in order, each type's values (the server shuffles an
    RRset's order from one answer to the next)."""
    return {name: (r.name, r.rcode.value, [(t, sorted(v)) for t, v in r.records.items()], r.error)
            for name, r in results.items()}


def by_loop(prober: Prober, names: list[str], types: tuple[str, ...] | list[str]) -> dict[str, DnsResult]:
    async def main() -> dict[str, DnsResult]:
        try:
            return {r.name: r async for r in prober.probe(names, types)}
        finally:
            await prober.close()

    return asyncio.run(main())


def by_sweep(prober: Prober, names: list[str], types: tuple[str, ...] | list[str]) -> dict[str, DnsResult]:
    return {r.name: r for r in prober.probe_all(iter(names), types, workers=1)}


Ask = Callable[[Prober, list[str], "tuple[str, ...] | list[str]"], dict[str, DnsResult]]


@pytest.mark.parametrize("types", [RECORD_TYPES, ("A",), ("MX", "CNAME", "A")])
def test_same_results_as_the_asyncio_prober(types: tuple[str, ...]) -> None:
    with NanoServer(nanodns.answers_everything()) as server:
        fast = by_sweep(prober_for(server), NAMES, types)
        slow = by_loop(prober_for(server), NAMES, types)
    assert same(fast) == same(slow)
    assert fast["example.test"].rcode is Rcode.NOERROR and fast["gone.test"].rcode is Rcode.NXDOMAIN
    assert fast["bad..name"].rcode is Rcode.ERROR


def test_a_dead_name_is_asked_once_and_a_live_one_every_type() -> None:
    with NanoServer(nanodns.answers_everything()) as server:
        by_sweep(prober_for(server), ["gone.test", "example.test"], RECORD_TYPES)
        asked = [(name, rtype) for name, rtype, _ in server.queries]
    assert [q for q in asked if q[0] == "gone.test"] == [("gone.test", RECORD_TYPES[0])]
    assert sorted(t for n, t in asked if n == "example.test") == sorted(RECORD_TYPES)


@pytest.mark.parametrize(("behaviour", "rcode"), [
    (nanodns.nxdomain, Rcode.NXDOMAIN),
    (nanodns.servfail, Rcode.SERVFAIL),
    (nanodns.refused, Rcode.REFUSED),
    (nanodns.silent, Rcode.TIMEOUT),
    (nanodns.garbage, Rcode.ERROR),
    (nanodns.id_mismatch, Rcode.TIMEOUT),
])
def test_failures_read_as_the_asyncio_prober_reads_them(behaviour: nanodns.Behaviour, rcode: Rcode) -> None:
    with NanoServer(behaviour) as server:
        fast = by_sweep(prober_for(server, timeout=0.2, retries=0), ["example.test"], ["A", "MX"])
        slow = by_loop(prober_for(server, timeout=0.2, retries=0), ["example.test"], ["A", "MX"])
    assert same(fast) == same(slow)
    assert fast["example.test"].rcode is rcode


# The same rules for both probers (the asyncio one of crawler/dnsengine.py, the bulk sweep of dnsfast):
# each of these runs once per prober.
PROBERS = pytest.mark.parametrize("ask", [by_sweep, by_loop], ids=["sweep", "loop"])


@PROBERS
@pytest.mark.parametrize("behaviour", [nanodns.garbage_then_answer, nanodns.id_mismatch_then_answer])
def test_bad_packets_are_ignored_while_waiting_for_the_answer(behaviour: nanodns.Behaviour, ask: Ask) -> None:
    with NanoServer(behaviour) as server:
        r = ask(prober_for(server, retries=0), ["example.test"], ["A"])["example.test"]
    assert r.rcode is Rcode.NOERROR
    assert sorted(r.get("A")) == ["192.0.2.1", "192.0.2.2"]  # never the forged 203.0.113.66


@PROBERS
def test_truncated_answers_are_asked_again_over_tcp(ask: Ask) -> None:
    with NanoServer(nanodns.truncating()) as server:
        r = ask(prober_for(server), ["example.test"], ["A", "TXT"])["example.test"]
        vias = {q[2] for q in server.queries}
    assert r.rcode is Rcode.NOERROR
    assert sorted(r.get("TXT")) == ["google-site-verification=abc123", "v=spf1 -all"]
    assert vias == {"udp", "tcp"}


@PROBERS
def test_timeouts_are_retried_up_to_retries(ask: Ask) -> None:
    with NanoServer(nanodns.flaky(drops=1)) as server:
        assert ask(prober_for(server, timeout=0.2, retries=1), ["example.test"], ["A"])[
            "example.test"].rcode is Rcode.NOERROR
        assert len(server.queries) == 2
    with NanoServer(nanodns.flaky(drops=2)) as server:
        r = ask(prober_for(server, timeout=0.2, retries=1), ["example.test"], ["A"])["example.test"]
        assert r.rcode is Rcode.TIMEOUT and r.error == "A: no answer after 2 tries of 0.2 s"
        assert len(server.queries) == 2


def test_servfail_from_one_resolver_is_retried_on_the_next() -> None:
    with NanoServer(nanodns.servfail) as bad, NanoServer(nanodns.answers_everything()) as good:
        r = by_sweep(prober_for(bad, good, retries=1), ["example.test"], ["A"])["example.test"]
    assert r.rcode is Rcode.NOERROR


def test_concurrency_bounds_the_queries_in_flight() -> None:
    names = [f"n{i}.example.test" for i in range(120)]
    with NanoServer(nanodns.answers_everything(), delay=0.03) as server:
        results = by_sweep(prober_for(server, concurrency=10), names, ["A"])
        assert 5 <= server.max_outstanding <= 10
    assert len(results) == 120 and {r.rcode for r in results.values()} == {Rcode.NXDOMAIN}


def test_probe_text_renders_every_name_once_in_batches() -> None:
    seen: list[int] = []
    with NanoServer(nanodns.answers_everything()) as server:
        text = "".join(prober_for(server).probe_text(
            NAMES, RECORD_TYPES, lambda name, rcode, records, error: f"{name} {rcode.value} {len(records)}\n",
            progress=seen.append))
    lines = text.splitlines()
    assert len(lines) == len(NAMES) and seen[-1] == len(NAMES)
    assert "gone.test NXDOMAIN 0" in lines and "example.test NOERROR 7" in lines


LAG_ZONE: nanodns.Zone = {f"n{i}.lag.test": {"A": [f"192.0.2.{i % 250 + 1}"]} for i in range(300)}


@PROBERS
def test_a_resolver_that_falls_behind_is_waited_for_not_timed_out(ask: Ask) -> None:
    """A resolver answering 250 questions a second, asked 256 at a time with a 0.4 s timeout (a question
    waits up to ~1 s in its queue): late answers count and the window narrows, in both engines. Before,
    a retry voided its try's answer: about two thirds of these names ended as timeouts."""
    with NanoServer(nanodns.answers_everything(LAG_ZONE), service=0.004) as server:
        results = ask(prober_for(server, timeout=0.4, retries=2, concurrency=256), sorted(LAG_ZONE), ["A"])
    failed = sorted(n for n, r in results.items() if r.rcode is not Rcode.NOERROR)
    assert len(results) == 300 and len(failed) <= 15, (len(failed), failed[:5])


def bulk_sweep(server: NanoServer, names: list[str], timeout: float) -> tuple[list[str], FastSweep]:
    """``names`` (A only) through the bulk engine, 256 in flight, 2 retries: the names not answered, and
    the sweep (its window, its tables) once it ended. Also bench/dns_drop.py's."""
    from crawler.dnsfast import FastSweep

    sweep = FastSweep([prober_for(server).nameservers[0]], [("A", 1)], timeout=timeout, retries=2, concurrency=256)
    sweep.open()
    try:
        rows = [row for batch in sweep.rows(iter(names)) for row in batch]
    finally:
        sweep.close()
    assert len(rows) == len(names)
    return [name for name, rcode, _, _ in rows if rcode is not Rcode.NOERROR], sweep


def test_the_sweep_asks_a_resolver_that_drops_at_its_pace() -> None:
    """The bulk engine against a resolver that answers 250 questions a second and drops any question that
    finds 32 waiting (see tests/crawler/test_dns_prober.py): before, 157-160 of 300 names timed out."""
    zone: nanodns.Zone = {f"n{i}.drop.test": {"A": [f"192.0.2.{i % 250 + 1}"]} for i in range(300)}
    with NanoServer(nanodns.answers_everything(zone), service=0.004, queue=32) as server:
        failed, sweep = bulk_sweep(server, sorted(zone), 0.4)
        dropped = server.dropped
    assert len(failed) <= 15, (len(failed), failed[:5])
    assert dropped > 0 and sweep.window.narrowed >= 1 and sweep.window.recovered > 0
    assert not any(sweep.stale) and sweep.queued == 0, "every timed-out question sent again or ended"


def test_the_sweep_narrows_its_window_on_late_answers_and_never_on_dead_names() -> None:
    with NanoServer(nanodns.answers_everything(LAG_ZONE), service=0.004) as server:
        failed, lagged = bulk_sweep(server, sorted(LAG_ZONE), 0.4)
    assert len(failed) <= 15 and lagged.window.late > 0 and lagged.window.narrowed >= 1, (len(failed), lagged.window.late)
    assert not any(lagged.stale), "every late id is released once its question ends"
    with NanoServer(nanodns.silent) as server:
        failed, dead = bulk_sweep(server, [f"n{i}.dead.test" for i in range(100)], 0.1)
    assert len(failed) == 100 and dead.window.narrowed == 0 and dead.window.late == 0 and dead.window.size == 256
    assert not any(dead.stale)
