"""The passive-DNS client against the sandbox's COF server: basic auth, history across phases, junk
lines counted, a 429 retried then typed, a missing value empty."""

from __future__ import annotations

import pytest

from crawler.pdns import PdnsClient, names_on
from crawler.run import run
from crawler.sources import Retry
from detect.model import ErrorKind
from sandbox.net import Sandbox

pytestmark = pytest.mark.sandbox

FAST = Retry(attempts=2, backoff=0.05, max_wait=2.0)


def client(sb: Sandbox, **over: str) -> PdnsClient:
    cfg = {**sb.pdns_settings(), **over}
    return PdnsClient(cfg["pdns_url"], user=cfg["pdns_user"], password=cfg["pdns_password"], timeout=5, retry=FAST)


def test_names_seen_on_an_address_include_the_past(sandbox: Sandbox) -> None:
    ip = sandbox.view.domains["rrn.media"].a[0]
    sandbox.set_phase("seizure")

    async def main() -> None:
        answer = await client(sandbox).query(ip)
        assert answer.error_kind is None and answer.malformed == 0
        names = names_on(answer, ip)
        assert "rrn.media" in names  # seized since, but pDNS remembers where it pointed
        assert all(r.time_first is not None and r.time_last is not None for r in answer.records)
        ns = sandbox.view.domains["rrn.so"].ns[0]
        by_ns = await client(sandbox).query(ns)
        assert "rrn.so" in names_on(by_ns, ns)

    run(main)


def test_wrong_password_is_an_http_error_and_says_nothing_of_it(sandbox: Sandbox) -> None:
    async def main() -> None:
        answer = await client(sandbox, pdns_password="wrong-secret-123").query("185.1.1.1")
        assert answer.error_kind is ErrorKind.HTTP and "401" in answer.error
        assert "wrong-secret-123" not in answer.error

    run(main)


def test_junk_lines_are_counted_and_the_records_kept(sandbox: Sandbox) -> None:
    ip = sandbox.view.domains["rrn.media"].a[0]

    async def main() -> None:
        empty = await client(sandbox).query("203.0.113.250")  # never seen: 404, no records, no error
        assert empty.error_kind is None and empty.records == ()
        sandbox.set_service_behaviour("pdns", "pdns-garbage")
        answer = await client(sandbox).query(ip)
        assert answer.error_kind is None and answer.malformed == 4 and "rrn.media" in names_on(answer, ip)
        junk = await client(sandbox).query("203.0.113.250")  # nothing but junk: malformed, not "nothing seen"
        assert junk.error_kind is ErrorKind.MALFORMED and junk.records == ()

    run(main)


@pytest.mark.parametrize(("behaviour", "kind"), [("pdns-429", ErrorKind.RATE_LIMITED), ("pdns-500", ErrorKind.HTTP)])
def test_a_busy_or_broken_server_is_retried_then_typed(sandbox: Sandbox, behaviour: str, kind: ErrorKind) -> None:
    sandbox.set_service_behaviour("pdns", behaviour)

    async def main() -> None:
        answer = await client(sandbox).query("185.1.1.1")
        assert answer.error_kind is kind and answer.records == ()

    run(main)
    assert sandbox.pdns_queries == ["185.1.1.1"] * (2 if behaviour == "pdns-429" else 1)
