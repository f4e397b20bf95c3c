"""The window of DNS questions in flight both engines share (crawler/dnswindow.py): pure, no server."""

from __future__ import annotations

from crawler.dnswindow import CONGESTION_MIN, WINDOW_FLOOR, Window


def _period(window: Window, at: float, *, answers: int, late: int = 0, recovered: int = 0) -> None:
    """One period's answers, then the judgement at its end."""
    for i in range(answers):
        window.answered(late=i < late, retried=late <= i < late + recovered)
    window.judge(at)


def test_names_that_never_answer_and_a_little_loss_do_not_narrow_it() -> None:
    w = Window(256, timeout=1.0)
    w.judge(0.0)  # the first period starts
    _period(w, 0.5, answers=0)  # only timeouts: dead names
    _period(w, 1.0, answers=500, recovered=CONGESTION_MIN * 2)  # 3 % of answers needed a retry: lost packets
    assert w.size == 256 and w.narrowed == 0 and not w.lagging


def test_late_answers_halve_it_and_say_the_resolver_queues() -> None:
    w = Window(256, timeout=1.0)
    w.judge(0.0)
    _period(w, 0.5, answers=400, late=100)
    assert w.narrowed == 1 and w.lagging and w.wait_on_timeouts
    assert w.size == 128  # halved (the period's 400 answers are more than that)
    assert w.late == 100 and w.recovered == 0


def test_answers_only_retries_get_bring_it_down_to_the_resolvers_pace_and_say_it_drops() -> None:
    """A resolver that took 32 questions in a period and dropped the rest: its retried ones answered."""
    w = Window(256, timeout=1.0)
    w.judge(0.0)
    _period(w, 0.5, answers=32, recovered=32)
    assert w.size == 32 and w.lagging and not w.wait_on_timeouts  # nothing to wait for on a dropped try
    _period(w, 1.0, answers=10, recovered=10)
    assert w.size == max(WINDOW_FLOOR, 10) == WINDOW_FLOOR  # never below the floor


def test_it_is_judged_once_a_period_and_widens_by_one_a_window_of_answers() -> None:
    w = Window(64, timeout=1.0)
    w.judge(0.0)
    _period(w, 0.5, answers=100, late=50)
    assert w.size == 32
    w.judge(0.7)  # within the next period: not judged again
    assert w.narrowed == 1
    for _ in range(32):  # one window's worth of answers: one question more
        w.answered()
    assert 32.9 < w.size < 33.1
    for _ in range(10_000):
        w.answered()
    assert w.size == 64 and not w.lagging  # up to the configured concurrency, no further


def test_a_small_concurrency_is_its_own_floor() -> None:
    w = Window(4, timeout=1.0)
    w.judge(0.0)
    _period(w, 0.5, answers=40, late=40)
    assert w.size == 4 and w.narrowed == 0  # nothing narrower to go to


def test_a_new_limit_holds_the_window_under_it_at_once_and_a_raised_one_is_grown_back_to() -> None:
    """A worker's share of the cluster's DNS budget changes (crawler/dns.py Prober.limit): a window at its
    ceiling moves with it; a narrowed one is cut to it, or keeps growing back towards a higher one."""
    w = Window(512, timeout=1.0)
    w.limit(100)  # three workers on a budget of 300
    assert (w.size, w.ceiling, w.floor) == (100, 100, WINDOW_FLOOR) and not w.lagging
    w.limit(150)  # one of them stopped
    assert w.size == 150 and not w.lagging
    w.judge(0.0)
    _period(w, 0.5, answers=400, late=100)  # the resolver queues: halved to 75
    assert w.size == 75 and w.lagging
    w.limit(50)
    assert w.size == 50 and w.lagging is False  # under the new ceiling at once (at it, here)
    w.limit(8)
    assert (w.size, w.floor) == (8, 8)  # a share under the floor is the floor
    w.limit(300)
    assert w.size == 300  # it was at its ceiling: it moves with it
    w.judge(1.0)
    _period(w, 1.5, answers=400, late=100)
    assert w.size == 150
    w.limit(1000)
    assert w.size == 150 and w.lagging  # narrowed: grows back by answers, as before
    w.answered()
    assert 150 < w.size < 151
