"""The sandbox's authoritative DNS server: UDP and TCP on the same loopback port, in threads."""

from __future__ import annotations

import logging
import socket
import struct
import threading

from sandbox.dns_answer import answer
from sandbox.errors import SandboxStartError
from sandbox.state import LiveState

log = logging.getLogger(__name__)


class DnsServer:
    def __init__(self, state: LiveState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.udp, self.tcp = _bind_pair(host, port)
        self.host = host
        self.port = self.udp.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        for target in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=target, name=f"sandbox-dns-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for sock in (self.udp, self.tcp):
            try:
                sock.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2)

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = answer(data, self.state, tcp=False)
                if reply is not None:
                    self.udp.sendto(reply, peer)
            except Exception:  # one bad query must not stop the server
                log.exception("sandbox DNS: failed to answer a UDP query")

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with conn:
            try:
                while not self._stop.is_set():
                    head = _recv_exact(conn, 2)
                    if not head:
                        return
                    data = _recv_exact(conn, struct.unpack("!H", head)[0])
                    if data is None:
                        return
                    reply = answer(data, self.state, tcp=True)
                    if reply is not None:
                        conn.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    buf = b""
    while len(buf) < size:
        chunk = conn.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets on the same port (clients retry truncated answers over TCP on that port)."""
    last: OSError | None = None
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Sweeps send hundreds of queries at once: a large receive buffer keeps bursts from being dropped.
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            udp.bind((host, port))
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(64)
        except OSError as exc:
            udp.close()
            tcp.close()
            last = exc
            if port:
                break
            continue
        udp.settimeout(0.25)
        tcp.settimeout(0.25)
        return udp, tcp
    raise SandboxStartError(f"sandbox DNS: cannot bind {host}:{port} for UDP and TCP: {last}")
