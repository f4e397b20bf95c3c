"""A threaded TCP server (one thread per connection) and minimal HTTP/1.1 request/response I/O.

The sandbox writes HTTP by hand so hostile behaviours (resets, drips, garbage) stay possible; every
answer closes the connection (`Connection: close`), which every client handles.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Self
from urllib.parse import urlsplit

from sandbox.errors import SandboxStartError

log = logging.getLogger(__name__)
MAX_HEAD = 65536


class TcpServer:
    def __init__(self, handler: Callable[[socket.socket], None], host: str = "127.0.0.1", port: int = 0,
                 name: str = "tcp") -> None:
        self.handler = handler
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise SandboxStartError(f"sandbox {name}: cannot bind {host}:{port}: {exc}") from None
        self.sock.listen(128)
        self.sock.settimeout(0.25)
        self.host, self.port = self.sock.getsockname()[:2]
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"sandbox-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(30)
            threading.Thread(target=self._run, args=(conn,), name=f"sandbox-{self.name}-conn", daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        except Exception:
            log.exception("sandbox %s: handler failed", self.name)
        finally:
            try:
                conn.close()
            except OSError:
                pass


class TcpService:
    """A sandbox service on its own ``TcpServer`` (``self.server``): start/stop, or use it as a context."""

    server: TcpServer

    @property
    def port(self) -> int:
        return int(self.server.port)

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoggedService(TcpService):
    """A service that remembers what it was asked, in order: subclasses implement ``_serve(conn)`` and
    call ``_log(query)``; tests read ``asked()`` and ``Sandbox.reset`` calls ``clear()``."""

    def __init__(self, host: str, port: int, name: str) -> None:
        self.server = TcpServer(self._serve, host, port, name=name)
        self.queries: list[str] = []
        self._lock = threading.Lock()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def asked(self) -> list[str]:
        with self._lock:
            return list(self.queries)

    def clear(self) -> None:
        with self._lock:
            self.queries.clear()

    def _log(self, query: str) -> None:
        with self._lock:
            self.queries.append(query)


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]          # lower-case names
    raw_head: bytes

    @property
    def host(self) -> str:
        """The host asked for: from an absolute-form target, else the Host header (port stripped)."""
        if "://" in self.target:
            return (urlsplit(self.target).hostname or "").lower()
        host = self.headers.get("host", "")
        if host.startswith("["):
            return host[1:host.find("]")].lower()
        return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()

    @property
    def path(self) -> str:
        if "://" in self.target:
            parts = urlsplit(self.target)
            return parts.path or "/"
        return self.target.split("?", 1)[0] or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.target).query


def read_request(conn: socket.socket) -> Request | None:
    """Read one request head (the body, if any, is ignored). None on EOF or a malformed head."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buf += chunk
        if len(buf) > MAX_HEAD:
            return None
    head = buf.split(b"\r\n\r\n", 1)[0]
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(method=parts[0].upper(), target=parts[1], version=parts[2], headers=headers,
                   raw_head=head + b"\r\n\r\n")


def response_head(status: int, headers: list[tuple[str, str]], length: int | None) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    names = {n.lower() for n, _ in headers}
    out = [f"HTTP/1.1 {status} {reason}"]
    if "date" not in names:
        out.append(f"Date: {formatdate(usegmt=True)}")
    if "server" not in names:
        out.append("Server: nginx")
    out += [f"{n}: {v}" for n, v in headers]
    if length is not None:
        out.append(f"Content-Length: {length}")
    out.append("Connection: close")
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


def send_response(conn: socket.socket, status: int, headers: list[tuple[str, str]], body: bytes,
                  head_only: bool = False) -> None:
    conn.sendall(response_head(status, headers, len(body)) + (b"" if head_only else body))
