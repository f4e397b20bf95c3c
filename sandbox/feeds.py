"""Data feeds as publishers serve them, for tests of the NRD and CT readers on loopback.

A :class:`FeedServer` serves whatever a test publishes at a path (or an exact target with its query):
plain, gzip or zip bodies built with :func:`gzip_bytes` and :func:`zip_bytes`, with an ETag and a
Last-Modified answered by ``304 Not Modified`` to a conditional GET, and the ways publishers fail:
scripted statuses first (``429`` with ``Retry-After``, ``503`` …), a body cut short of its
Content-Length, a body that stalls. Every request is logged, so a test can count what was fetched.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate

from sandbox.tcp import Request, TcpServer, TcpService, read_request, response_head, send_response


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive holding ``files`` (name → content), deflated; the same bytes for the same files
    (a fixed timestamp), so its ETag changes only when its content does."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), content,
                             compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def lines(names: Iterable[str]) -> bytes:
    return "".join(f"{n}\n" for n in names).encode()


def _not_modified(request: Request, item: Published) -> bool:
    return bool(request.headers.get("if-none-match") == item.tag()
                or (item.last_modified and request.headers.get("if-modified-since") == item.last_modified))


def _status(request: Request, item: Published | None, failure: tuple[int, str] | None) -> int:
    if item is None:
        return 404
    if failure is not None:
        return failure[0]
    return 304 if _not_modified(request, item) else 200


def http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


@dataclass
class Published:
    """One file: its body and validators, and the failures answered before it (popped one a request)."""

    body: bytes
    content_type: str = "application/octet-stream"
    etag: str = ""                  # "" = a digest of the body
    last_modified: str = ""         # an HTTP date, or "" for none
    failures: list[tuple[int, str]] = field(default_factory=list)  # (status, Retry-After or "")
    cut_at: int | None = None       # send only this many body bytes (Content-Length says all), then close
    stall: bool = False             # send the head, then nothing until the client gives up

    def tag(self) -> str:
        return self.etag or '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Logged:
    target: str
    headers: dict[str, str]
    status: int


class FeedServer(TcpService):
    """An HTTP server publishing files at paths; ``requests`` logs every request and its answer."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.files: dict[str, Published] = {}
        self.requests: list[Logged] = []
        self._lock = threading.Lock()
        self.server = TcpServer(self._handle, host, port, name="feeds")

    def url(self, path: str) -> str:
        return f"http://{self.server.host}:{self.server.port}{path}"

    def publish(self, path: str, body: bytes, **options: object) -> Published:
        item = Published(body, **options)  # type: ignore[arg-type]
        with self._lock:
            self.files[path] = item
        return item

    def hits(self, path: str, status: int | None = None) -> int:
        """Requests for ``path`` (a path or an exact target), optionally only those answered ``status``."""
        with self._lock:
            return sum(1 for r in self.requests if path in (r.target, r.target.split("?", 1)[0])
                       and (status is None or r.status == status))

    def _handle(self, conn: socket.socket) -> None:
        request = read_request(conn)
        if request is None:
            return
        with self._lock:  # logged before answering: a client may count requests as soon as it has its answer
            item = self.files.get(request.target) or self.files.get(request.path)
            failure = item.failures.pop(0) if item is not None and item.failures else None
            self.requests.append(Logged(request.target, dict(request.headers), _status(request, item, failure)))
        self._answer(conn, request, item, failure)

    def _answer(self, conn: socket.socket, request: Request, item: Published | None,
                failure: tuple[int, str] | None) -> int:
        if item is None:
            send_response(conn, 404, [("Content-Type", "text/plain")], b"not found\n")
            return 404
        if failure is not None:
            status, retry_after = failure
            headers = [("Content-Type", "text/plain")] + ([("Retry-After", retry_after)] if retry_after else [])
            send_response(conn, status, headers, f"{status}\n".encode())
            return status
        validators = [("ETag", item.tag())] + ([("Last-Modified", item.last_modified)] if item.last_modified else [])
        if _not_modified(request, item):
            send_response(conn, 304, validators, b"")
            return 304
        headers = [("Content-Type", item.content_type), *validators]
        if item.stall:
            conn.sendall(response_head(200, headers, len(item.body)))
            time.sleep(5)
            return 200
        if item.cut_at is not None:
            conn.sendall(response_head(200, headers, len(item.body)) + item.body[: item.cut_at])
            return 200
        send_response(conn, 200, headers, item.body, request.method == "HEAD")
        return 200
