"""What the tests share: a config builder, the CLI run in process or in a subprocess, the daemon as a
process, a read-only look into a store, and an SMTP inbox.

- :func:`write_config` writes a config file from the sandbox's endpoints, a store URL, a preset
  (:data:`QUICK`: timeouts and intervals of seconds) and the test's own sections.
- :func:`cli` runs ``hydrawatch --config … ARGS`` in this process (no interpreter start, no Scrapy,
  Twisted or SQLAlchemy import to pay again) with its output, environment, working directory and
  logging isolated. The shared reactor (crawler/run.py) is started once per process and reused, so
  crawls run here as often as a test likes.
- :func:`cli_subprocess` and :class:`DaemonProcess` are for tests where the process is the point:
  signals, a crash, peak memory, a terminal, what a fresh interpreter imports.
"""

from tests.support.cli import REPO, Result, cli, cli_subprocess
from tests.support.config import QUICK, config_data, deep_merge, write_config
from tests.support.daemon import DaemonProcess, wait_until
from tests.support.mail import Inbox, smtp_inbox
from tests.support.store import StoreView

__all__ = ["QUICK", "REPO", "DaemonProcess", "Inbox", "Result", "StoreView", "cli", "cli_subprocess", "config_data",
           "deep_merge", "smtp_inbox", "wait_until", "write_config"]
