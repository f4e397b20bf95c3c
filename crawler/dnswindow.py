"""The window of DNS questions in flight, shared by both engines (crawler/dnsengine.py, the prober's asyncio
engine; crawler/dnsfast.py, the bulk sweep's synchronous one): additive increase, multiplicative decrease,
as TCP does with its congestion window.

A resolver with more questions in flight than it answers per second shows it in one of two ways. One that
*queues* them answers late, then later still as retries pile up on its queue: answers come after their
try timed out (``late``). One that *drops* them (a rate limit, a full socket buffer) never answers the
dropped try, and the question is answered only when a retry gets through (``recovered``). Either sign,
in a half-timeout period that saw at least CONGESTION_MIN of them and CONGESTION_SHARE or more of its
answers, halves the window, and brings it down to the number of answers the period brought when that
is fewer (the resolver's pace: more in flight than it answers in half a timeout waits longer than the
timeout, or is dropped again), not below WINDOW_FLOOR (or ``concurrency`` when smaller); every answer widens
it by one question a window's worth of answers (1/size), up to ``concurrency``. Names that never answer
(dead servers) give neither sign: they are the names' doing, not the resolver's. A few lost packets
(well under a tenth of the answers) do not narrow it either.

While the window is narrowed because the resolver queues (:attr:`Window.wait_on_timeouts`: most signs
were late answers) the engines wait on a timed-out try, but the last, one more timeout instead of sending
it again: another copy would only lengthen its queue. A resolver that drops has nothing to wait for: the
try is sent again. Either way a timed-out question goes out again only when the window has room, oldest
first, never in a burst on top of it.
"""

from __future__ import annotations

CONGESTION_MIN = 8  # congestion signs (late or recovered answers) in one period before the window is narrowed ...
CONGESTION_SHARE = 0.1  # ... and their share of the period's answers
WINDOW_FLOOR = 16  # the narrowest window (or ``concurrency``, when smaller)


class Window:
    """How many questions may be in flight now (``size``), and the counts behind it. Pure: the engines tell
    it of answers (:meth:`answered`) and of the time (:meth:`judge`)."""

    __slots__ = ("_answers", "_late", "_period", "_period_end", "_signs", "ceiling", "floor", "late", "narrowed",
                 "queueing", "recovered", "size")

    def __init__(self, concurrency: int, timeout: float) -> None:
        self.ceiling = float(max(1, concurrency))
        self.floor = float(max(1, min(concurrency, WINDOW_FLOOR)))
        self.size = self.ceiling
        self.narrowed = 0  # how many times it was halved (for the log and the tests)
        self.late = 0  # answers taken after their try had timed out
        self.recovered = 0  # answers only a retry got (the earlier tries never answered)
        self._answers = 0  # this period's answers ...
        self._signs = 0  # ... and its late or recovered ones among them ...
        self._late = 0  # ... and its late ones
        # the resolver queues what it cannot answer yet (the last narrowing was mostly late answers), rather
        # than dropping it: a timed-out try is then better waited on than sent again
        self.queueing = False
        self._period = timeout / 2
        self._period_end = 0.0

    @property
    def lagging(self) -> bool:
        """Narrowed: the resolver showed it has too much in flight, and has not yet been given it back."""
        return self.size < self.ceiling

    @property
    def wait_on_timeouts(self) -> bool:
        """Narrowed because the resolver queues (answers late): a timed-out try is waited on, not sent again.
        A resolver that drops (answers only retries) has its timed-out tries sent again, within the window."""
        return self.queueing and self.size < self.ceiling

    def limit(self, concurrency: int) -> None:
        """A new most-in-flight (a worker's share of the cluster's DNS budget changed): a window above it comes
        down to it at once; one that was at its ceiling moves with it, one narrowed grows back as before."""
        at_ceiling = self.size >= self.ceiling
        self.ceiling = float(max(1, concurrency))
        self.floor = float(max(1, min(concurrency, WINDOW_FLOOR)))
        self.size = self.ceiling if at_ceiling else max(self.floor, min(self.size, self.ceiling))

    def answered(self, *, late: bool = False, retried: bool = False) -> None:
        """One answer taken: ``late`` when it answers a try that had timed out, ``retried`` when it answers
        a try after the first (the earlier ones unanswered)."""
        self._answers += 1
        if late:
            self.late += 1
            self._late += 1
            self._signs += 1
        elif retried:
            self.recovered += 1
            self._signs += 1
        if self.size < self.ceiling:
            self.size = min(self.ceiling, self.size + 1 / self.size)

    def judge(self, now: float) -> tuple[int, int, float] | None:
        """At most once a period (half the timeout): halve the window when the period's congestion signs
        were many (see the module). (signs, answers, the size before) when it was halved, for the log."""
        if now < self._period_end:
            return None
        answers, signs, late = self._answers, self._signs, self._late
        self._period_end = now + self._period
        self._answers = self._signs = self._late = 0
        if signs >= CONGESTION_MIN and signs >= CONGESTION_SHARE * answers and self.size > self.floor:
            before = self.size
            self.queueing = 2 * late >= signs
            # halved, and never above what the resolver answered in the period (its pace over half a
            # timeout): more in flight than that waits longer than the timeout or is dropped again
            self.size = max(self.floor, min(self.size / 2, float(answers)))
            self.narrowed += 1
            return signs, answers, before
        return None
