"""The DNS prober against tiny real DNS servers on loopback, each named by its behaviour."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.dns import Prober, ProberError, parse_nameserver
from crawler.dnsengine import Nameserver, Query
from crawler.settings import DnsSettings
from detect.model import DnsResult, Rcode
from tests.crawler import nanodns
from tests.crawler.nanodns import NanoServer

ROOT = Path(__file__).resolve().parents[2]


def prober_for(*servers: NanoServer, timeout: float = 0.3, retries: int = 1, concurrency: int = 64) -> Prober:
    return Prober.from_settings(DnsSettings(nameservers=[s.address for s in servers], timeout=timeout,
                                        retries=retries, concurrency=concurrency))


def probe(prober: Prober, names: list[str], types: tuple[str, ...] | list[str] = ("A",)) -> dict[str, DnsResult]:
    async def main() -> dict[str, DnsResult]:
        try:
            return {r.name: r async for r in prober.probe(names, types)}
        finally:
            await prober.close()

    return asyncio.run(main())


@pytest.fixture
def answering() -> Iterator[NanoServer]:
    with NanoServer(nanodns.answers_everything()) as server:
        yield server


def test_records_come_back_in_presentation_form(answering: NanoServer) -> None:
    result = probe(prober_for(answering), ["Example.TEST."], ["A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME"])
    r = result["example.test"]
    assert r.rcode is Rcode.NOERROR and r.error == ""
    assert sorted(r.get("A")) == ["192.0.2.1", "192.0.2.2"]
    assert r.get("AAAA") == ("2001:db8::1",)
    assert sorted(r.get("NS")) == ["ns1.example.net", "ns2.example.net"]
    assert r.get("MX") == ("10 mx.example.net",)
    assert r.get("SOA") == ("ns1.example.net hostmaster.example.test 2024090501 7200 3600 1209600 300",)
    assert sorted(r.get("TXT")) == ["google-site-verification=abc123", "v=spf1 -all"]
    assert r.get("CNAME") == ()
    assert list(r.records) == ["A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME"]


def test_same_name_cname_is_recorded_and_followed(answering: NanoServer) -> None:
    r = probe(prober_for(answering), ["www.example.test"], ["A"])["www.example.test"]
    assert r.rcode is Rcode.NOERROR
    assert r.get("CNAME") == ("example.test",)
    assert sorted(r.get("A")) == ["192.0.2.1", "192.0.2.2"]


def test_nxdomain_on_the_first_type_ends_the_name(answering: NanoServer) -> None:
    r = probe(prober_for(answering), ["gone.test"], ["A", "NS", "MX"])["gone.test"]
    assert r.rcode is Rcode.NXDOMAIN and r.records == {}
    assert [q for q in answering.queries if q[0] == "gone.test"] == [("gone.test", "A", "udp")]


def test_addresses_are_announced_before_the_result_with_every_type_still_asked(answering: NanoServer) -> None:
    """on_addresses: a name's A then AAAA records as soon as both are answered, before its result (which
    still has all seven types, the same as without the callback); none for a dead or address-less name."""
    events: list[tuple[str, str, tuple[str, ...]]] = []
    names = ["example.test", "www.example.test", "gone.test", "noaddr.test"]

    async def main() -> dict[str, DnsResult]:
        prober = prober_for(answering)
        try:
            out = {}
            async for r in prober.probe(names, on_addresses=lambda n, a: events.append(("addresses", n, a))):
                events.append(("result", r.name, ()))
                out[r.name] = r
            return out
        finally:
            await prober.close()

    results = asyncio.run(main())
    plain = probe(prober_for(answering), names, ["A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME"])
    def sorted_records(r: DnsResult) -> tuple[Rcode, str, dict[str, list[str]]]:
        return r.rcode, r.error, {rtype: sorted(values) for rtype, values in r.records.items()}

    assert results.keys() == plain.keys()  # the server shuffles a record set: compared sorted
    assert all(sorted_records(results[n]) == sorted_records(plain[n]) for n in names)
    announced = {name: addrs for kind, name, addrs in events if kind == "addresses"}
    assert set(announced) == {"example.test", "www.example.test"}
    for name, addrs in announced.items():
        assert addrs == (*results[name].get("A"), *results[name].get("AAAA"))
        assert events.index(("addresses", name, addrs)) < events.index(("result", name, ()))
    assert list(results["example.test"].records) == ["A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME"]


def test_existing_name_without_the_records_is_noanswer(answering: NanoServer) -> None:
    prober = prober_for(answering)
    assert probe(prober, ["noaddr.test"], ["A", "AAAA"])["noaddr.test"].rcode is Rcode.NOANSWER
    r = probe(prober, ["noaddr.test"], ["A", "TXT"])["noaddr.test"]
    assert r.rcode is Rcode.NOERROR and r.get("TXT") == ("hello",)


@pytest.mark.parametrize(("behaviour", "rcode"), [
    (nanodns.nxdomain, Rcode.NXDOMAIN),
    (nanodns.servfail, Rcode.SERVFAIL),
    (nanodns.refused, Rcode.REFUSED),
    (nanodns.silent, Rcode.TIMEOUT),
    (nanodns.garbage, Rcode.ERROR),
    (nanodns.id_mismatch, Rcode.TIMEOUT),
])
def test_failures_are_kept_distinct(behaviour: nanodns.Behaviour, rcode: Rcode) -> None:
    with NanoServer(behaviour) as server:
        r = probe(prober_for(server, timeout=0.2, retries=0), ["example.test"], ["A", "MX"])["example.test"]
    assert r.rcode is rcode
    assert r.records == {}
    if rcode is not Rcode.NXDOMAIN:
        assert r.error


def test_servfail_from_one_resolver_is_retried_on_the_next() -> None:
    with NanoServer(nanodns.servfail) as bad, NanoServer(nanodns.answers_everything()) as good:
        r = probe(prober_for(bad, good, retries=1), ["example.test"])["example.test"]
    assert r.rcode is Rcode.NOERROR


def test_concurrency_bounds_the_queries_in_flight() -> None:
    names = [f"n{i}.example.test" for i in range(120)]
    with NanoServer(nanodns.answers_everything(), delay=0.03) as server:
        results = probe(prober_for(server, concurrency=10), names)
        assert 5 <= server.max_outstanding <= 10
    assert len(results) == 120 and {r.rcode for r in results.values()} == {Rcode.NXDOMAIN}


def _engine_after(prober: Prober, names: list[str]) -> tuple[dict[str, DnsResult], int, int]:
    """Probe ``names`` (A only); the results, and how often the engine narrowed its window and took a
    late answer."""

    async def main() -> tuple[dict[str, DnsResult], int, int]:
        try:
            results = {r.name: r async for r in prober.probe(names, ["A"])}
            engine = await prober._open()
            return results, engine.window.narrowed, engine.window.late
        finally:
            await prober.close()

    return asyncio.run(main())


def test_a_resolver_that_falls_behind_is_waited_for_not_timed_out() -> None:
    """A resolver that answers 250 questions a second, asked 256 at a time with a 0.4 s timeout: a question
    waits up to ~1 s in its queue. Answers that come after their try timed out are taken (the retry does not
    void them), and the window of questions in flight narrows until answers come in time. Before, a retry
    voided its try's answer and joined the queue behind it: 191-203 of these 300 names ended as timeouts
    (load ~5); now none, at most a few when a loaded machine holds the prober up."""
    zone: nanodns.Zone = {f"n{i}.lag.test": {"A": [f"192.0.2.{i % 250 + 1}"]} for i in range(300)}
    names = sorted(zone)
    with NanoServer(nanodns.answers_everything(zone), service=0.004) as server:
        results, narrowed, late = _engine_after(prober_for(server, timeout=0.4, retries=2, concurrency=256), names)
    failed = sorted(n for n, r in results.items() if r.rcode is not Rcode.NOERROR)
    assert len(results) == 300 and len(failed) <= 15, (len(failed), failed[:5])
    assert late > 0 and narrowed >= 1, (late, narrowed)
    assert results["n7.lag.test"].get("A") == ("192.0.2.8",)


def test_a_resolver_that_drops_what_it_cannot_take_is_asked_at_its_pace() -> None:
    """A resolver that answers 250 questions a second and drops any question that finds 32 waiting (a rate
    limit, a full buffer), asked 256 at a time with a 0.4 s timeout: its answers never come late, only
    retries get through. Answers to retries narrow the window, down to what the resolver answered in the
    period, and timed-out questions go out again only as the window has room, not in a burst on top of
    it. Before (late answers the only sign, retries sent at once): 151-160 of these 300 names ended as
    timeouts; now none, at most a few when a loaded machine holds the prober up."""
    zone: nanodns.Zone = {f"n{i}.drop.test": {"A": [f"192.0.2.{i % 250 + 1}"]} for i in range(300)}
    with NanoServer(nanodns.answers_everything(zone), service=0.004, queue=32) as server:
        results, narrowed, _late = _engine_after(prober_for(server, timeout=0.4, retries=2, concurrency=256),
                                                 sorted(zone))
        dropped = server.dropped
    failed = sorted(n for n, r in results.items() if r.rcode is not Rcode.NOERROR)
    assert len(results) == 300 and len(failed) <= 15, (len(failed), failed[:5])
    assert dropped > 0 and narrowed >= 1, (dropped, narrowed)


def test_names_that_never_answer_do_not_narrow_the_window() -> None:
    """Dead names time out on every try; that is the names' doing, not a lagging resolver's: the window
    stays as wide as configured."""
    names = [f"n{i}.dead.test" for i in range(60)]
    with NanoServer(nanodns.silent) as server:
        results, narrowed, late = _engine_after(prober_for(server, timeout=0.1, retries=1, concurrency=64), names)
    assert {r.rcode for r in results.values()} == {Rcode.TIMEOUT} and len(results) == 60
    assert narrowed == 0 and late == 0


def test_answered_queries_are_let_go_before_their_deadline(answering: NanoServer) -> None:
    """A daemon's prober lives for months: once a sweep is answered, nothing of it may stay behind
    waiting for a timeout that no longer matters (it held every name of a big hunt for `timeout` s)."""

    async def main() -> tuple[int, int]:
        prober = prober_for(answering, timeout=60.0, concurrency=64)
        try:
            answered = len([r async for r in prober.probe([f"n{i}.example.test" for i in range(500)], ["A"])])
            gc.collect()
            return answered, sum(isinstance(o, Query) for o in gc.get_objects())
        finally:
            await prober.close()

    answered, queries_alive = asyncio.run(main())
    assert answered == 500
    assert queries_alive == 0


def test_invalid_names_are_error_results_not_crashes(answering: NanoServer) -> None:
    results = probe(prober_for(answering), ["bad..name", "x" * 70 + ".test", "example.test"])
    assert results["bad..name"].rcode is Rcode.ERROR
    assert results["example.test"].rcode is Rcode.NOERROR
    assert len(results) == 3


def test_async_input_is_streamed_and_early_exit_stops_the_sweep(answering: NanoServer) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[str]:
        nonlocal pulled
        while True:
            pulled += 1
            yield f"n{pulled}.test"
            await asyncio.sleep(0)

    async def main() -> list[DnsResult]:
        prober = prober_for(answering, concurrency=16)
        out = []
        async for result in prober.probe(endless(), ["A"]):
            out.append(result)
            if len(out) == 50:
                break
        await prober.close()
        return out

    out = asyncio.run(main())
    assert len(out) == 50
    assert pulled < 50 + 16 + 512  # bounded read-ahead, not the whole (endless) input


def test_observed_at_is_stamped_on_every_result(answering: NanoServer) -> None:
    when = datetime(2024, 9, 5, tzinfo=UTC)

    async def main() -> list[DnsResult]:
        prober = prober_for(answering)
        out = [r async for r in prober.probe(["example.test", "gone.test"], ["A"], observed_at=when)]
        await prober.close()
        return out

    assert {r.observed_at for r in asyncio.run(main())} == {when}


def test_probe_all_streams_results_in_process_and_in_workers(answering: NanoServer) -> None:
    names = ["example.test", "gone.test"] + [f"n{i}.test" for i in range(600)]
    prober = prober_for(answering, concurrency=64)
    done: list[int] = []
    for workers in (1, 2):
        results = {r.name: r for r in prober.probe_all(iter(names), ["A"], workers=workers, progress=done.append)}
        assert len(results) == len(names)
        assert results["example.test"].rcode is Rcode.NOERROR
        assert results["gone.test"].rcode is Rcode.NXDOMAIN
        assert done[-1] == len(names)


def test_probe_all_refuses_to_run_inside_a_running_loop(answering: NanoServer) -> None:
    async def main() -> None:
        list(prober_for(answering).probe_all(["example.test"], ["A"]))

    with pytest.raises(RuntimeError, match="probe"):
        asyncio.run(main())


def test_unknown_record_types_are_refused() -> None:
    with pytest.raises(ProberError, match="NOPE"):
        Prober([Nameserver("127.0.0.1", 9)]).probe_all(["x.test"], ["A", "NOPE"])


def test_nameserver_strings() -> None:
    assert parse_nameserver("127.0.0.1:5300") == Nameserver("127.0.0.1", 5300)
    assert parse_nameserver("9.9.9.9") == Nameserver("9.9.9.9", 53)
    assert parse_nameserver("[::1]:5300") == Nameserver("::1", 5300)
    assert parse_nameserver("2001:db8::53") == Nameserver("2001:db8::53", 53)


def test_empty_nameservers_means_the_system_resolvers() -> None:
    prober = Prober.from_settings(DnsSettings(nameservers=[]))
    try:
        servers = prober.nameservers
    except ProberError:
        pytest.skip("this machine has no /etc/resolv.conf resolvers")
    assert servers and all(s.port for s in servers)


def test_probe_works_inside_twisted_asyncio_reactor(answering: NanoServer) -> None:
    """The daemon drives asyncio through Twisted's AsyncioSelectorReactor: probe there too."""
    script = textwrap.dedent(f"""
        import asyncio, json
        from twisted.internet import asyncioreactor
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        asyncioreactor.install(loop)
        from twisted.internet import defer, reactor
        from crawler.dns import Prober
        from crawler.settings import DnsSettings

        async def sweep():
            prober = Prober.from_settings(DnsSettings(nameservers=["{answering.address}"], timeout=0.5))
            out = {{r.name: r.rcode.value async for r in prober.probe(["example.test", "gone.test"], ["A"])}}
            await prober.close()
            return out

        found = {{}}
        def run():
            d = defer.Deferred.fromFuture(asyncio.ensure_future(sweep()))
            d.addCallback(found.update)
            d.addBoth(lambda _: reactor.stop())
        reactor.callWhenRunning(run)
        reactor.run()
        print(json.dumps(found))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"example.test": "NOERROR", "gone.test": "NXDOMAIN"}


def test_answers_that_came_in_time_are_not_timed_out_by_a_held_up_loop(answering: NanoServer) -> None:
    """A loop held up past the timeout (a worker busy with a batch's store calls, or starved of CPU on a
    loaded machine) finds the answers waiting in its sockets: they count, not a timeout. asyncio reads one
    datagram a pass and runs the expiry timer in the same pass, so without draining the sockets first all
    but a few came back as "no answer after 1 tries" (the cluster bench's 4-worker DNS timeouts)."""
    import time

    names = [f"n{i}.example.test" for i in range(200)]

    async def main() -> dict[str, DnsResult]:
        prober = prober_for(answering, timeout=1.0, retries=0, concurrency=256)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, time.sleep, 3.0)  # the whole loop held up: queries sent and answered, none read
        try:
            return {r.name: r async for r in prober.probe(names, ["A"])}
        finally:
            await prober.close()

    results = asyncio.run(main())
    assert len(results) == 200
    late = [r.error for r in results.values() if r.rcode is not Rcode.NXDOMAIN]
    assert not late, (len(late), late[:3])
