"""The daemon tests' names for the shared support (tests/support/): the daemon as a process, its
config file, its store. ``cli`` here runs in process: only the daemon itself needs a process."""

from __future__ import annotations

from tests.support import REPO, DaemonProcess, StoreView, cli, cli_subprocess, wait_until, write_config

__all__ = ["REPO", "DaemonProcess", "StoreView", "cli", "cli_subprocess", "wait_until", "write_config"]
