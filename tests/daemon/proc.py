"""Drive the real daemon as a subprocess: write its config, start it, read its log, inspect its store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from sqlalchemy import create_engine, text

from hydrawatch.config import to_toml
from sandbox.net import Sandbox

REPO = Path(__file__).resolve().parents[2]


def write_config(path: Path, sandbox: Sandbox, store_url: str, **sections: dict[str, Any]) -> Path:
    """A config file: the sandbox overrides, the store, short [schedule] intervals, then ``sections``."""
    data: dict[str, dict[str, Any]] = {k: dict(v) for k, v in sandbox.config_overrides().items()}
    data["storage"] = {"url": store_url}
    data.setdefault("alerts", {}).update({"retry_backoff": 1.0})
    data["schedule"] = {"dns_interval": 2, "crawl_interval": 5, "discovery_interval": 20, "alert_interval": 1}
    data["dns"].update({"timeout": 2.0})
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=_env(), check=False)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class DaemonProcess:
    """`hydrawatch run` in a subprocess; its stderr goes to a file the test can read at any time."""

    def __init__(self, config: Path, log_path: Path, *extra: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()/kill()
        self.proc = subprocess.Popen([sys.executable, "-m", "hydrawatch.cli", "--config", str(config), "run", *extra],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO, env=_env())

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


class StoreView:
    """Read-only SQL look into the daemon's store (a separate engine, short transactions)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def edges(self) -> list[tuple[str, str, str]]:
        return sorted(self.rows("SELECT s.name, d.name, e.relation FROM edges e JOIN domains s ON s.id = e.from_id "
                                "JOIN domains d ON d.id = e.to_id"))

    def cycles(self, kind: str | None = None, outcome: str | None = None) -> int:
        sql = "SELECT count(*) FROM cycles WHERE 1=1"
        if kind:
            sql += " AND kind = :kind"
        if outcome:
            sql += " AND outcome = :outcome"
        return int(self.scalar(sql, kind=kind, outcome=outcome))

    def close(self) -> None:
        self.engine.dispose()
