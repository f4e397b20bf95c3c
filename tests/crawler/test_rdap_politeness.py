"""RDAP politeness against the sandbox registry: Retry-After (an HTTP date) honoured, a Retry-After
beyond ``max_wait`` closes the server without asking it again, a spent budget asks nothing, answers are
cached for ``cache_hours``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from crawler.rdap import RdapClient
from crawler.run import run
from crawler.settings import RdapSettings
from detect.model import ErrorKind
from sandbox.net import Sandbox

pytestmark = pytest.mark.sandbox

NOW = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)


def client(sb: Sandbox, **settings: float) -> RdapClient:
    return RdapClient.from_settings(RdapSettings(servers=sb.config_overrides()["rdap"]["servers"], timeout=5,
                                                 **settings))  # type: ignore[arg-type]


def test_429_with_an_http_date_is_waited_out_then_answered(sandbox: Sandbox) -> None:
    sandbox.set_service_behaviour("rdap", "rdap-429-date")
    rdap = client(sandbox)

    async def main() -> None:
        started = time.monotonic()
        rec = await rdap.lookup("washingtonpost.pm", now=NOW)
        assert rec.error_kind is None and rec.registrar == "NameSilo, LLC", rec
        assert time.monotonic() - started >= 0.9  # the date is 2 s ahead at whole-second precision

    run(main)
    assert sandbox.rdap_requests == ["washingtonpost.pm", "washingtonpost.pm"]


def test_retry_after_beyond_max_wait_is_rate_limited_and_the_server_left_alone(sandbox: Sandbox) -> None:
    sandbox.set_service_behaviour("rdap", "rdap-429")  # Retry-After: 2
    rdap = client(sandbox, max_wait=1.0)

    async def main() -> None:
        first = await rdap.lookup("washingtonpost.pm", now=NOW)
        assert first.error_kind is ErrorKind.RATE_LIMITED and first.http_status == 429
        assert "Retry-After 2s" in first.error
        second = await rdap.lookup("rrn.media", now=NOW)  # same server, still closed: not asked
        assert second.error_kind is ErrorKind.RATE_LIMITED and second.http_status is None
        assert "Retry-After" in second.error and "rdap.max_wait" in second.error
        assert rdap.take_counts() == {"rate_limited": 2}

    run(main)
    assert sandbox.rdap_requests == ["washingtonpost.pm"]


def test_spent_budget_asks_nothing_and_says_so(sandbox: Sandbox) -> None:
    rdap = client(sandbox, max_per_minute=1, max_wait=0.0)

    async def main() -> None:
        ok = await rdap.lookup("washingtonpost.pm", now=NOW)
        assert ok.error_kind is None
        spent = await rdap.lookup("rrn.media", now=NOW)
        assert spent.error_kind is ErrorKind.RATE_LIMITED and "budget is spent" in spent.error

    run(main)
    assert sandbox.rdap_requests == ["washingtonpost.pm"]


def test_answers_and_not_found_are_cached_failures_are_not(sandbox: Sandbox) -> None:
    rdap = client(sandbox, cache_hours=24)

    async def main() -> None:
        first = await rdap.lookup("washingtonpost.pm", now=NOW)
        again = await rdap.lookup("WashingtonPost.pm.", now=NOW + timedelta(hours=23))
        assert again == first and first.error_kind is None
        missing = await rdap.lookup("never-registered.pm", now=NOW)
        assert missing.http_status == 404
        assert (await rdap.lookup("never-registered.pm", now=NOW)).http_status == 404
        sandbox.set_behaviour("rrn.media", "rdap-500")
        assert (await rdap.lookup("rrn.media", now=NOW)).http_status == 500
        sandbox.set_behaviour("rrn.media", None)
        assert (await rdap.lookup("rrn.media", now=NOW)).error_kind is None  # a failure is asked again
        later = await rdap.lookup("washingtonpost.pm", now=NOW + timedelta(hours=25))
        assert later.error_kind is None and later.observed_at == NOW + timedelta(hours=25)
        assert rdap.take_counts() == {"cached": 2} and rdap.take_counts() == {}

    run(main)
    assert sandbox.rdap_requests == ["washingtonpost.pm", "never-registered.pm", "rrn.media", "rrn.media",
                                     "washingtonpost.pm"]
