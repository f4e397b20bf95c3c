"""The request budget, Retry-After parsing and the answer cache (pure: the clock is a number we set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from crawler.politeness import MAX_BLOCK, AnswerCache, HostBudget, TokenBucket
from crawler.sources import retry_after_seconds

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_bucket_gives_a_burst_then_one_request_per_interval() -> None:
    bucket = TokenBucket(per_minute=60, burst=3)
    waits = [bucket.reserve(0.0) for _ in range(6)]
    assert waits == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    # after a quiet spell the burst is back, but never more than the burst
    assert [bucket.reserve(100.0) for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_bucket_refuses_beyond_max_wait_without_taking_a_slot() -> None:
    bucket = TokenBucket(per_minute=6, burst=1)  # one every 10 s
    assert bucket.reserve(0.0, max_wait=15) == 0.0
    assert bucket.reserve(0.0, max_wait=15) == 10.0
    assert bucket.reserve(0.0, max_wait=15) is None
    assert bucket.reserve(0.0, max_wait=15) is None  # the refusals took nothing
    assert bucket.reserve(5.0, max_wait=15) == 15.0


def test_bucket_waits_for_a_closed_host() -> None:
    bucket = TokenBucket(per_minute=60, burst=5)
    assert bucket.reserve(0.0, not_before=30.0) == 30.0
    assert bucket.reserve(0.0, not_before=30.0, max_wait=29.0) is None


def test_budget_is_per_host_and_honours_retry_after() -> None:
    clock = Clock()
    budget = HostBudget(per_minute=60, max_wait=120, burst=2, clock=clock, sleep=clock.sleep)

    async def main() -> None:
        assert [await budget.acquire("rdap.a") for _ in range(3)] == [0.0, 0.0, 1.0]
        assert await budget.acquire("rdap.b") == 0.0  # another server has its own budget
        budget.back_off("rdap.a", 90)
        assert budget.closed_for("rdap.a") == 90.0 and budget.closed_for("rdap.b") == 0.0
        assert await budget.acquire("rdap.a") == 90.0
        assert clock.slept == [1.0, 90.0]
        budget.back_off("rdap.a", 500)  # longer than max_wait: the host is not asked, nothing is slept
        assert await budget.acquire("rdap.a") is None and clock.slept == [1.0, 90.0]
        assert await budget.acquire("rdap.b") == 0.0
        budget.back_off("rdap.a", 10)  # a shorter Retry-After never reopens a host early
        assert budget.closed_for("rdap.a") == 500.0
        budget.back_off("rdap.c", 10**9)
        assert budget.closed_for("rdap.c") == MAX_BLOCK

    asyncio.run(main())


def test_default_burst_is_a_sixth_of_a_minute() -> None:
    assert HostBudget(60, 300).burst == 10 and HostBudget(3, 300).burst == 1


def test_retry_after_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds("Sun, 22 Nov 2026 10:02:00 GMT", NOW) == 120.0
    assert retry_after_seconds("Sun, 22 Nov 2026 09:00:00 GMT", NOW) == 0.0  # in the past: at once
    for junk in ("", "soon", "-5", "1.5e9", "Sun, 99 Foo 2026"):
        assert retry_after_seconds(junk, NOW) is None, junk


def test_cache_keeps_answers_for_their_hours_only() -> None:
    cache: AnswerCache[str] = AnswerCache(hours=24, max_entries=2)
    cache.put("a.pm", "A", NOW)
    assert cache.get("a.pm", NOW + timedelta(hours=23)) == "A"
    assert cache.get("a.pm", NOW + timedelta(hours=24)) is None and len(cache) == 0
    cache.put("a.pm", "A", NOW)
    assert cache.get("a.pm", NOW - timedelta(hours=1)) is None  # a clock that went back does not see it
    for name in ("a.pm", "b.pm", "c.pm"):
        cache.put(name, name, NOW)
    assert cache.get("a.pm", NOW) is None and cache.get("c.pm", NOW) == "c.pm"  # oldest evicted
    off: AnswerCache[str] = AnswerCache(hours=0)
    off.put("a.pm", "A", NOW)
    assert off.get("a.pm", NOW) is None
