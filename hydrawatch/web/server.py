"""Running the app with uvicorn: in the foreground (`hydrawatch serve`) or in a thread (tests, demo)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from hydrawatch.web.app import create_app

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def loopback_hosts(host: str) -> list[str] | None:
    """Host names to accept when bound to loopback (a page elsewhere cannot rebind its name to us)."""
    if host in LOOPBACK:
        return ["127.0.0.1", "localhost", "[::1]", "::1"]
    return None


def build(sessions: sessionmaker[Session], *, host: str, token: str) -> FastAPI:
    return create_app(sessions, token=token, allowed_hosts=loopback_hosts(host))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class RunningServer:
    """A server in a background thread; ``url`` has the real port (bind to port 0 for an ephemeral one)."""

    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def start_background(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    sock = _bind(host, port)
    real = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="hydrawatch-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    return RunningServer(server, thread, sock, f"http://{shown}:{real}")


def serve_forever(app: FastAPI, host: str, port: int, announce: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles the signals); ``announce`` gets the real URL."""
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    log.info("serving on %s", url)
    if announce is not None:
        announce(url)
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
    finally:
        sock.close()
