"""Progress of the work in hand, for a person watching a foreground run.

The cycle reports stages (probe, crawl, RDAP, classify, hunt …) to a sink; the scheduler knows
nothing of terminals. The default sink does nothing, so the daemon under systemd, the tests and the
benchmarks pay one method call per domain. The CLI plugs in a Rich progress display
(`hydrawatch/progress.py`) when stderr is a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class ProgressSink(Protocol):
    def start(self, stage: str, total: int | None) -> object:
        """Open a stage of ``total`` steps (None: unknown); returns a handle for advance/finish."""

    def advance(self, handle: object, steps: int = 1) -> None: ...

    def finish(self, handle: object) -> None: ...


class NullProgress:
    def start(self, stage: str, total: int | None) -> object:
        return None

    def advance(self, handle: object, steps: int = 1) -> None:
        pass

    def finish(self, handle: object) -> None:
        pass


NULL = NullProgress()


class Stage:
    """One open stage of a sink: ``advance()`` per step done."""

    def __init__(self, sink: ProgressSink, handle: object) -> None:
        self._sink = sink
        self._handle = handle

    def advance(self, steps: int = 1) -> None:
        self._sink.advance(self._handle, steps)


@contextmanager
def stage(sink: ProgressSink, name: str, total: int | None) -> Iterator[Stage]:
    """A stage that is finished however its block ends (an interrupted job leaves no stale bar)."""
    handle = sink.start(name, total)
    try:
        yield Stage(sink, handle)
    finally:
        sink.finish(handle)
