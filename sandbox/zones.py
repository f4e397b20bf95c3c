"""Zone files as ICANN CZDS publishes them, and a download server in CZDS's URL layout, for offline tests.

:func:`zone_text` writes a TLD's zone the way CZDS files look (tab-separated, lower case, the apex SOA and
NS, each delegation's NS records, DS records, glue addresses, DNSSEC signatures), :func:`gz` compresses it;
:func:`truncated` and :func:`corrupt` spoil a gzip file the two ways downloads go wrong. A
:class:`ZoneServer` answers ``GET /czds/downloads/<tld>.zone`` with the file published for the TLD, only
to ``Authorization: Bearer <token>`` (401 otherwise, as CZDS does), and logs every request.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from collections.abc import Iterable

from sandbox.tcp import TcpServer, TcpService, read_request, response_head, send_response

DOWNLOAD_PREFIX = "/czds/downloads/"


def zone_text(tld: str, names: Iterable[str], serial: int = 2025031000) -> bytes:
    """A CZDS-layout zone of ``tld`` delegating each of ``names`` (written as given, so a test may pass
    upper case or a final dot) to two name servers, with the records around delegations a real zone has."""
    tld = tld.strip(".").lower()
    out = [
        f"{tld}.\t86400\tin\tsoa\ta.nic.{tld}. hostmaster.nic.{tld}. {serial} 1800 900 604800 86400",
        f"{tld}.\t172800\tin\tns\ta.nic.{tld}.",
        f"{tld}.\t172800\tin\tns\tb.nic.{tld}.",
        f"{tld}.\t86400\tin\trrsig\tns 8 1 172800 20250401000000 20250301000000 12345 {tld}. c2lnbmF0dXJl",
    ]
    for name in names:
        owner = name if name.endswith(".") else f"{name}."
        digest = hashlib.sha256(owner.lower().encode()).hexdigest()
        out += [f"{owner}\t172800\tin\tns\tns1.{owner}",
                f"{owner}\t172800\tin\tns\tns2.hosting-{digest[:4]}.com.",
                f"ns1.{owner}\t172800\tin\ta\t192.0.2.{int(digest[4:6], 16) % 250 + 1}"]
        if int(digest[6], 16) < 4:  # some are signed
            out += [f"{owner}\t86400\tin\tds\t{int(digest[7:11], 16)} 13 2 {digest[:64].upper()}",
                    f"{owner}\t86400\tin\trrsig\tds 8 2 86400 20250401000000 20250301000000 12345 {tld}. c2ln"]
    out.append(f"{tld}.\t86400\tin\tnsec3param\t1 0 0 -")
    return ("\n".join(out) + "\n").encode("ascii")


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def truncated(gz_bytes: bytes) -> bytes:
    """A download cut short: the first half of a gzip file (no end-of-stream marker, no checksum)."""
    return gz_bytes[: len(gz_bytes) // 2]


def corrupt(gz_bytes: bytes) -> bytes:
    """Bytes flipped in the middle of the deflate stream (the header still says gzip)."""
    middle = len(gz_bytes) // 2
    return gz_bytes[:middle] + bytes(b ^ 0xA5 for b in gz_bytes[middle:middle + 64]) + gz_bytes[middle + 64:]


class ZoneServer(TcpService):
    """CZDS's download API on loopback: ``publish(tld, body)`` sets what ``/czds/downloads/<tld>.zone``
    returns; requests without the bearer ``token`` get 401; a TLD in ``stalled`` sends its head and then
nothing until the client gives up; ``requests`` lists the paths asked for."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.stalled: set[str] = set()  # TLDs whose download sends its head and then nothing
        self._lock = threading.Lock()
        self.server = TcpServer(self._handle, host, port, name="zones")

    def url(self, tld: str) -> str:
        return f"http://{self.server.host}:{self.server.port}{DOWNLOAD_PREFIX}{tld}.zone"

    def publish(self, tld: str, body: bytes) -> None:
        with self._lock:
            self.files[tld] = body

    def hits(self, tld: str) -> int:
        with self._lock:
            return self.requests.count(f"{DOWNLOAD_PREFIX}{tld}.zone")

    def _handle(self, conn: socket.socket) -> None:
        request = read_request(conn)
        if request is None:
            return
        with self._lock:
            self.requests.append(request.path)
            tld = request.path[len(DOWNLOAD_PREFIX):].removesuffix(".zone")
            body = self.files.get(tld) if request.path.startswith(DOWNLOAD_PREFIX) else None
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return send_response(conn, 401, [("Content-Type", "application/json")],
                                 b'{"message":"Authentication failed","httpStatus":401}')
        if body is None:
            return send_response(conn, 404, [("Content-Type", "application/json")],
                                 b'{"message":"Zone not found or not approved","httpStatus":404}')
        headers = [("Content-Type", "application/octet-stream"),
                   ("Content-Disposition", f'attachment;filename="{tld}.txt.gz"')]
        if tld in self.stalled:
            conn.sendall(response_head(200, headers, len(body)) + body[:100])
            self.server.stopping.wait(30)
            return None
        return send_response(conn, 200, headers, body, request.method == "HEAD")
