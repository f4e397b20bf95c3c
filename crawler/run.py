"""The one event loop of the process: Twisted's AsyncioSelectorReactor over an asyncio loop.

Rules (keep them, or Scrapy crawls break the second time round):
- Nothing imports ``twisted.internet.reactor`` at module import time. Import it inside functions,
  after :func:`ensure_reactor` (or :func:`run`) has installed the asyncio reactor.
- Entry points (CLI commands, the daemon, tests) call :func:`run` with a coroutine function.
  Everything asyncio (dnspython probes, APScheduler's AsyncIOScheduler, the cycle) and everything
  Twisted (Scrapy crawls, the RDAP/CT/feed HTTP client) then share the same loop.
- The reactor is started once and never stopped or restarted, so one process can crawl again and
  again (no ReactorNotRestartable). :func:`run` may be called several times in one process (tests
  do); each call drives the loop until its coroutine is done.
- The daemon runs forever as ``run(main)`` where ``main`` awaits a stop event (see
  :func:`run_until_stopped`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class ReactorMismatch(RuntimeError):
    """Another Twisted reactor was installed before hydrawatch could install the asyncio one."""


def _installed_reactor() -> Any | None:
    if "twisted.internet.reactor" not in sys.modules:
        return None
    from twisted.internet import reactor

    return reactor


def ensure_reactor() -> asyncio.AbstractEventLoop:
    """Install the asyncio reactor if none is installed yet; return the loop it runs on.

    Raises ReactorMismatch when a different reactor (e.g. epoll, installed by an early
    ``from twisted.internet import reactor``) is already in place.
    """
    reactor = _installed_reactor()
    if reactor is None:
        from twisted.internet import asyncioreactor

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        asyncioreactor.install(loop)
        reactor = _installed_reactor()
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

    if not isinstance(reactor, AsyncioSelectorReactor):
        raise ReactorMismatch(
            f"an incompatible Twisted reactor is installed ({type(reactor).__module__}."
            f"{type(reactor).__name__}); hydrawatch needs {ASYNCIO_REACTOR}: something imported "
            "twisted.internet.reactor before crawler.run.ensure_reactor()")
    loop: asyncio.AbstractEventLoop = reactor._asyncioEventloop
    if not getattr(reactor, "_started", False):
        # startRunning fires the reactor's startup triggers (thread pool, Scrapy hooks) without
        # blocking; the asyncio loop itself is driven by run().
        reactor.startRunning(installSignalHandlers=False)
    return loop


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` to completion on the shared reactor loop; return its value or raise its error.

    Installs the reactor on first use. Must not be called from inside the running loop.
    """
    loop = ensure_reactor()
    if loop.is_running():
        raise RuntimeError("crawler.run.run() called from inside the running event loop; await instead")
    asyncio.set_event_loop(loop)

    async def _main() -> T:
        return await main()

    return loop.run_until_complete(_main())


async def run_until_stopped(stop: asyncio.Event | None = None) -> None:
    """Wait until ``stop`` is set or SIGINT/SIGTERM arrives: the daemon's ``main`` awaits this."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def shutdown() -> None:
    """Stop the reactor's thread pool (its threads are not daemons and would keep the process alive
    after the CLI returns). Safe to call when no reactor was installed; the pool is rebuilt on next use."""
    reactor = _installed_reactor()
    if reactor is None:
        return
    stop_pool = getattr(reactor, "_stopThreadPool", None)
    if stop_pool is not None and getattr(reactor, "threadpool", None) is not None:
        stop_pool()
