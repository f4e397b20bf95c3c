"""DNS rebinding on loopback: a rebinding name server, a forward proxy that resolves names itself (as
squid or tinyproxy do), and the internal service the proxy's network hides.

- :class:`RebindingDns` answers the A query of a rebinding name with a public-looking address the
  first ``public_answers`` times and with a loopback address afterwards (TTL 0, so nobody caches it);
  every other query is relayed to the upstream server (the sandbox's DNS).
- :class:`ResolvingProxy` takes absolute-URI requests and CONNECT; a name in the target is resolved
  through the given name server, an address literal is used as it is. Its network: world addresses
  reach the sandbox's web fronts, and 127.0.0.1 reaches :class:`InternalService` (an admin page that
  counts its connections) — what a rebinding attack is after. It logs every target it was given.
"""

from __future__ import annotations

import ipaddress
import selectors
import socket
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset

INTERNAL_PAGE = b"<html><head><title>internal admin</title></head><body>proxy-side secret</body></html>"


class RebindingDns:
    """UDP name server: rebinding names first answer ``public``, then ``private``; the rest is relayed."""

    def __init__(self, upstream: tuple[str, int], names: Mapping[str, str], private: str = "127.0.0.1",
                 public_answers: int = 1) -> None:
        self.upstream = upstream
        self.names = {n.lower().rstrip("."): ip for n, ip in names.items()}
        self.private = private
        self.public_answers = public_answers
        self.answers: dict[str, list[str]] = {}  # name -> the A answers given, in order
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rebinding-dns", daemon=True)
        self._thread.start()

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.answers.clear()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self._answer(data)
            except (dns.exception.DNSException, IndexError):  # an unparsable datagram is dropped
                reply = None
            if reply:
                self.sock.sendto(reply, addr)

    def _answer(self, data: bytes) -> bytes | None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if name not in self.names:
            return _relay(data, self.upstream)
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        if question.rdtype == dns.rdatatype.A:
            with self.lock:
                given = self.answers.setdefault(name, [])
                ip = self.names[name] if len(given) < self.public_answers else self.private
                given.append(ip)
            reply.answer.append(dns.rrset.from_text_list(question.name, 0, "IN", "A", [ip]))
        return reply.to_wire()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=2)


def _relay(data: bytes, upstream: tuple[str, int]) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(data, upstream)
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


class _Listener:
    """A threaded loopback TCP listener calling ``handle(conn)`` per connection."""

    def __init__(self, name: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.handle(conn)
            except OSError:
                pass

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=2)


class InternalService(_Listener):
    """An admin page on the proxy's loopback: counts connections, answers any request with a secret."""

    def __init__(self) -> None:
        self.connections = 0
        super().__init__("internal-service")

    def handle(self, conn: socket.socket) -> None:
        self.connections += 1
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(INTERNAL_PAGE), INTERNAL_PAGE))


class ResolvingProxy(_Listener):
    """A forward proxy that resolves the names it is given through ``nameserver`` (no cache)."""

    def __init__(self, nameserver: tuple[str, int], web_ports: Mapping[int, int], internal: InternalService) -> None:
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = [nameserver[0]]
        self.resolver.port = nameserver[1]
        self.resolver.lifetime = 2.0
        self.web_ports = dict(web_ports)  # 80/443 of world addresses -> the sandbox's web fronts
        self.internal = internal
        self.targets: list[str] = []  # "CONNECT host:port" / "GET http://…" as received
        super().__init__("resolving-proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.targets.clear()

    def route(self, host: str, port: int) -> tuple[str, int] | None:
        """Where (host, port) is on the proxy's network: a name is resolved here, as a real proxy does."""
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            try:
                ip = ipaddress.ip_address(self.resolver.resolve(host, "A", search=False)[0].to_text())
            except (dns.exception.DNSException, IndexError, ValueError):
                return None
        if ip.is_loopback:
            return ("127.0.0.1", self.internal.port)
        upstream = self.web_ports.get(port)
        return ("127.0.0.1", upstream) if upstream else None

    def handle(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            if not chunk:
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        self.targets.append(f"{method} {target}")
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            where = self.route(host, int(port)) if port.isdigit() else None
            if where is None:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(where, timeout=10) as up:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    up.sendall(rest)
                _pipe(conn, up)
            return
        parts = urlsplit(target)
        where = self.route(parts.hostname or "", parts.port or 80) if parts.scheme == "http" else None
        if where is None:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [line for line in lines[1:] if not line.lower().startswith(("proxy-", "connection:"))]
        out = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"]) + "\r\n\r\n"
        with socket.create_connection(where, timeout=10) as up:
            up.sendall(out.encode("latin-1") + rest)
            _pipe(conn, up)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            events = sel.select(timeout=10)
            if not events:
                return
            for key, _ in events:
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    return
                if not data:
                    return
                key.data.sendall(data)
    finally:
        sel.close()
