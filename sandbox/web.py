"""The world's web sites: one HTTP and one HTTPS front, virtual-hosted by Host header and SNI."""

from __future__ import annotations

import socket
import ssl
import threading
import time

from sandbox.ca import SandboxCA
from sandbox.hostile import Payloads, serve_hostile
from sandbox.model import DomainState, Page
from sandbox.state import LiveState
from sandbox.tcp import Request, TcpServer, TcpService, read_request, send_response
from sandbox.tls_sni import peek_client_hello, server_name

NOT_FOUND = Page(status=404, body=b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
                 b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
TLS_GARBAGE = b"\x15\x03\x01\x00\x02\x02\x28" + b"HTTP/1.1 400 Bad Request\r\n\r\n not tls " * 8


class WebFront(TcpService):
    """Serves every site of the current phase on one address (plain HTTP or TLS)."""

    def __init__(self, state: LiveState, ca: SandboxCA, payloads: Payloads, tls: bool,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.ca = ca
        self.payloads = payloads
        self.tls = tls
        self.server = TcpServer(self.handle, host, port, name="https" if tls else "http")
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []  # (scheme, method, target, headers)
        # (time.monotonic() as the request was read, as its answer was sent, the Host header's name)
        self.served: list[tuple[float, float, str]] = []
        self.answering = 0  # requests read whose entry in ``served`` is not written yet
        self._lock = threading.Lock()

    def handle(self, conn: socket.socket) -> None:
        view = self.state.view
        if self.tls:
            sni = server_name(peek_client_hello(conn))
            domain = view.domain_of_host(sni) if sni else None
            if domain is None or domain.site is None or domain.site.tls is None:
                return  # no such site here: the handshake fails, as on a host without it
            if self.state.behaviour(domain, "web") == "tls-garbage":
                conn.sendall(TLS_GARBAGE)
                return
            try:
                conn = self.ca.context_for(domain.site.tls).wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return
        request = read_request(conn)
        if request is None:
            return
        self.requests.append(("https" if self.tls else "http", request.method, request.target, dict(request.headers)))
        start = time.monotonic()
        with self._lock:
            self.answering += 1
        try:
            self.respond(conn, request, view.domain_of_host(request.host))
        finally:
            with self._lock:
                self.served.append((start, time.monotonic(), request.host))
                self.answering -= 1

    def respond(self, conn: socket.socket, request: Request, domain: DomainState | None) -> None:
        head_only = request.method == "HEAD"
        scheme = "https" if self.tls else "http"
        if domain is None or domain.site is None or (not self.tls and not domain.site.http):
            send_response(conn, NOT_FOUND.status, [("Content-Type", "text/html")], NOT_FOUND.body, head_only)
            return
        site = domain.site
        if not self.tls and site.redirect_to_https:
            location = f"https://{request.host}{request.path}"
            send_response(conn, 301, [("Location", location)], b"", head_only)
            return
        page = site.pages.get(f"{request.path}?{request.query}") if request.query else None
        page = page or site.pages.get(request.path)
        if page is None and request.path in site.favicon_paths and site.favicon is not None:
            page = Page(body=site.favicon, content_type="image/x-icon")
        if page is None:
            page = site.catch_all
        behaviour = self.state.behaviour(domain, "web")
        if behaviour and serve_hostile(conn, behaviour, request, page, scheme, self.payloads,
                                       self.server.stopping):
            return
        page = page or NOT_FOUND
        headers = [("Content-Type", page.content_type), *page.headers]
        if page.location:
            headers.append(("Location", page.location))
        send_response(conn, page.status, headers, page.body, head_only)
