"""`hydrawatch run` as a process of its own (signals, a crash, a reload are the point), and waiting
on a condition rather than sleeping."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from tests.support.cli import REPO, clean_env


class DaemonProcess:
    """`hydrawatch run` in a subprocess; its stderr goes to a file the test can read at any time."""

    def __init__(self, config: Path, log_path: Path, *extra: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()/kill()
        self.proc = subprocess.Popen([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), "run", *extra],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO, env=clean_env())

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is not None:
                self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, proc: DaemonProcess | None = None,
               every: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` seconds pass (the
    test fails naming ``what``); a daemon that exits meanwhile fails it at once, with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"the daemon exited ({proc.proc.returncode}) while waiting for {what}:\n{proc.log[-4000:]}")
        time.sleep(every)
    tail = proc.log[-4000:] if proc is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")
