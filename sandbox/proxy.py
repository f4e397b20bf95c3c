"""A forward proxy (absolute-URI HTTP and CONNECT) routing world host names and addresses to the sandbox's web fronts.

The crawler sends every fetch as ``CONNECT <address>:<port>`` (crawler/tunnel.py): an address is
routed when a resolving domain of the phase has it, and the web front picks the site by Host/SNI.

Hosts that are not in the current phase, do not resolve, or have no web site get 502, like an
unreachable host behind a real proxy. Lets the crawler reach 185.x.x.x sites without root.
"""

from __future__ import annotations

import selectors
import socket
import struct

from sandbox.model import DomainState, PhaseView
from sandbox.state import LiveState
from sandbox.tcp import TcpServer, TcpService, read_request, send_response


class ForwardProxy(TcpService):
    def __init__(self, state: LiveState, http_port: int, https_port: int, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.state = state
        self.http_port = http_port
        self.https_port = https_port
        self.server = TcpServer(self.handle, host, port, name="proxy")
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, target, headers) as received

    def handle(self, conn: socket.socket) -> None:
        request = read_request(conn)
        if request is None:
            return
        self.requests.append((request.method, request.target, dict(request.headers)))
        view = self.state.view
        if request.method == "CONNECT":
            host, _, port_text = request.target.rpartition(":")
            port = int(port_text) if port_text.isdigit() else 0
            upstream = {443: self.https_port, 80: self.http_port}.get(port)
            if upstream is None or not _serves(view, host.strip("[]").lower(), tls=port == 443):
                _bad_gateway(conn, request.target)
                return
            with socket.create_connection(("127.0.0.1", upstream), timeout=30) as up:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(conn, up)
            return
        if "://" not in request.target:
            send_response(conn, 400, [("Content-Type", "text/plain")], b"proxy: absolute URI expected\n")
            return
        domain = _route(view, request.host)
        if domain is None or not request.target.lower().startswith("http://") or _port(request.target) != 80:
            _bad_gateway(conn, request.host)
            return
        query = f"?{request.query}" if request.query else ""
        lines = [f"{request.method} {request.path}{query} {request.version}"]
        for name, value in request.headers.items():
            if not name.startswith("proxy-") and name != "connection":
                lines.append(f"{name}: {value}")
        lines.append("connection: close")
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=30) as up:
            up.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            _pipe(conn, up)


def _route(view: PhaseView, host: str) -> DomainState | None:
    domain = view.domain_of_host(host)
    if domain is None:
        domain = next((d for d in view.resolving_on(host) if d.site), None)
    if domain is None or domain.site is None or not domain.a:
        return None
    return domain


def _serves(view: PhaseView, host: str, *, tls: bool) -> bool:
    """Is there a web site (with TLS if ``tls``) at ``host``: a world name, or an address some resolving
    domain has (the crawler tunnels to the address it checked; the front then picks the site by Host/SNI)."""
    domain = view.domain_of_host(host)
    sites = (domain,) if domain is not None else view.resolving_on(host)
    return any(d.site is not None and d.a and (not tls or d.site.tls is not None) for d in sites)


def _port(url: str) -> int:
    hostport = url.split("://", 1)[1].split("/", 1)[0]
    if hostport.startswith("["):
        hostport = hostport.split("]", 1)[1]
    _, sep, port = hostport.rpartition(":")
    return int(port) if sep and port.isdigit() else 80


def _bad_gateway(conn: socket.socket, what: str) -> None:
    send_response(conn, 502, [("Content-Type", "text/plain")], f"proxy: cannot reach {what}\n".encode())


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            events = sel.select(timeout=60)
            if not events:
                return
            for key, _ in events:
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = src.recv(65536)
                except ConnectionResetError:  # pass a reset on to the client
                    key.data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                except TimeoutError:
                    return
                if not data:
                    return
                key.data.sendall(data)
    finally:
        sel.close()
