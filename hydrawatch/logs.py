"""Structured logging: text for people, JSON lines for log shippers ([log] format)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from hydrawatch.render import dumps, terminal_safe
from hydrawatch.secrets import Redactor


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "level": record.levelname.lower(), "logger": record.name,
                "message": self.redact(record.getMessage())}
        if record.exc_info:
            data["exception"] = self.redact(self.formatException(record.exc_info))
        return dumps(data, indent=None)


class SafeTextFormatter(logging.Formatter):
    """Log lines carry crawled text: make control characters inert for the terminal; secrets masked."""

    def __init__(self, fmt: str | None = None, redact: Redactor | None = None) -> None:
        super().__init__(fmt)
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(self.redact(super().format(record)), limit=2000)


def setup(fmt: str, level: str, redact: Redactor | None = None) -> None:
    """Logs to stderr; ``redact`` masks the config's secrets (and any URL password) in every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else
                         SafeTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("twisted", "apscheduler", "asyncio", "filelock", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Jobs queue behind one lock, so APScheduler reports each tick that finds its job still waiting
    # ("skipped: maximum number of running instances reached"): expected coalescing, not a problem.
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))
    # Every fetch failure is recorded as an observation with its error kind; Scrapy's own retry and
    # download errors would only repeat that on the terminal.
    logging.getLogger("scrapy").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.CRITICAL)
