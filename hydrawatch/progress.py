"""Rich progress on stderr for a foreground `run` / `run --once`: one bar per stage in hand
(watched: DNS, crawl, RDAP, classify; candidates: resolve, …, score), log lines printed above them.

Shown only when stderr is a terminal and logs are text: JSON logs are for shippers, and a log file
must not fill with redraws."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from hydrawatch.logs import SafeTextFormatter
from scheduler.progress import NULL, ProgressSink


class RichProgress:
    """A ProgressSink drawing each open stage as a bar; a finished stage disappears."""

    def __init__(self, console: Console) -> None:
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, transient=True)

    def start(self, stage: str, total: int | None) -> object:
        return self.bars.add_task(stage, total=total)

    def advance(self, handle: object, steps: int = 1) -> None:
        assert isinstance(handle, int)
        self.bars.advance(TaskID(handle), steps)

    def finish(self, handle: object) -> None:
        assert isinstance(handle, int)
        self.bars.remove_task(TaskID(handle))


class ConsoleHandler(logging.Handler):
    """Log lines through the progress display's console, so they print above the bars."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.format(record), markup=False, highlight=False, emoji=False, soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never raise into the cycle
            self.handleError(record)


def wanted(mode: str, log_format: str, console: Console) -> bool:
    """``mode``: "auto" (a terminal and text logs), "always" or "never"."""
    if mode == "auto":
        return console.is_terminal and log_format == "text"
    return mode == "always"


@contextmanager
def progress_display(enabled: bool, console: Console) -> Iterator[ProgressSink]:
    """The sink for a foreground run: live bars with the root logger routed above them, or nothing."""
    if not enabled:
        yield NULL
        return
    sink = RichProgress(console)
    root = logging.getLogger()
    previous = root.handlers[:]
    handler = ConsoleHandler(console)
    handler.setFormatter(previous[0].formatter if previous else SafeTextFormatter())
    root.handlers[:] = [handler]
    try:
        with sink.bars:
            yield sink
    finally:
        root.handlers[:] = previous
