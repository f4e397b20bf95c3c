"""Tiny real DNS servers on loopback (UDP and TCP, ephemeral port), named by their behaviour.

After dnspython's tests/nanonameserver.py: each server runs in a thread with plain sockets, so it
serves the prober whatever loop (asyncio, Twisted's asyncio reactor, another process) drives it.
A behaviour maps one request to the datagrams sent back (possibly none, possibly several).
"""

from __future__ import annotations

import heapq
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, Self

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

Zone = dict[str, dict[str, list[str]]]  # name -> type -> rdata texts

DEFAULT_ZONE: Zone = {
    "example.test": {"A": ["192.0.2.1", "192.0.2.2"], "AAAA": ["2001:db8::1"],
                     "NS": ["NS1.Example.NET.", "ns2.example.net."], "MX": ["10 mx.example.net."],
                     "SOA": ["ns1.example.net. hostmaster.example.test. 2024090501 7200 3600 1209600 300"],
                     "TXT": ['"v=spf1 -all"', '"google-site-verification=" "abc123"']},
    "www.example.test": {"CNAME": ["example.test."]},
    "noaddr.test": {"TXT": ['"hello"']},
}


def _response(request: dns.message.Message, rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    response = dns.message.make_response(request)
    response.set_rcode(rcode)
    return response


def answer_from(zone: Zone) -> Callable[[dns.message.Message], dns.message.Message]:
    """Authoritative-style answers from ``zone`` (CNAMEs followed), NXDOMAIN for other names."""

    def answer(request: dns.message.Message) -> dns.message.Message:
        q = request.question[0]
        name = q.name.to_text(omit_final_dot=True).lower()
        rtype = dns.rdatatype.to_text(q.rdtype)
        response = _response(request)
        response.flags |= dns.flags.AA
        hops = 0
        while hops < 8:
            hops += 1
            node = zone.get(name)
            if node is None:
                if hops == 1:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                return response
            if rtype in node:
                response.answer.append(dns.rrset.from_text_list(name + ".", 300, "IN", rtype, node[rtype]))
                return response
            if "CNAME" in node:
                response.answer.append(dns.rrset.from_text_list(name + ".", 300, "IN", "CNAME", node["CNAME"]))
                name = node["CNAME"][0].rstrip(".").lower()
                continue
            return response
        return response

    return answer


Behaviour = Callable[["NanoServer", dns.message.Message, bytes, str], list[bytes]]


def answers_everything(zone: Zone = DEFAULT_ZONE) -> Behaviour:
    answer = answer_from(zone)
    return lambda server, request, wire, via: [answer(request).to_wire()]


def nxdomain(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
    return [_response(request, dns.rcode.NXDOMAIN).to_wire()]


def servfail(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
    return [_response(request, dns.rcode.SERVFAIL).to_wire()]


def refused(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
    return [_response(request, dns.rcode.REFUSED).to_wire()]


def silent(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
    return []


def garbage(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
    """Random junk, then a packet with the right id and question whose answer record is cut short."""
    good = answer_from(DEFAULT_ZONE)(request).to_wire()
    header = bytearray(good[:12])
    header[6:8] = struct.pack("!H", 1)  # claims one answer record
    qend = 12 + len(request.question[0].name.to_wire()) + 4
    return [os.urandom(40), bytes(header) + good[12:qend] + b"\xc0\x0c\x00\x01\x00\x01"]


def garbage_then_answer(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
    return [*garbage(server, request, wire, via), answer_from(DEFAULT_ZONE)(request).to_wire()]


def id_mismatch(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
    bad = _response(request)
    bad.id = request.id ^ 0x5A5A
    bad.answer.append(dns.rrset.from_text(request.question[0].name, 300, "IN", "A", "203.0.113.66"))
    return [bad.to_wire()]


def id_mismatch_then_answer(server: NanoServer, request: dns.message.Message, wire: bytes,
                            via: str) -> list[bytes]:
    return [*id_mismatch(server, request, wire, via), answer_from(DEFAULT_ZONE)(request).to_wire()]


def truncating(zone: Zone = DEFAULT_ZONE) -> Behaviour:
    """Over UDP only an empty answer with TC set; over TCP the whole answer."""
    answer = answer_from(zone)

    def behave(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
        if via == "tcp":
            return [answer(request).to_wire()]
        response = _response(request)
        response.flags |= dns.flags.TC
        return [response.to_wire()]

    return behave


def flaky(drops: int) -> Behaviour:
    """Ignores the first ``drops`` tries of each question, then answers from the default zone."""
    seen: dict[tuple[str, int], int] = {}
    answer = answer_from(DEFAULT_ZONE)

    def behave(server: NanoServer, request: dns.message.Message, wire: bytes, via: str) -> list[bytes]:
        key = (request.question[0].name.to_text().lower(), request.question[0].rdtype)
        seen[key] = seen.get(key, 0) + 1
        return [] if seen[key] <= drops else [answer(request).to_wire()]

    return behave


class NanoServer:
    """A DNS server on 127.0.0.1 (same port for UDP and TCP) in a daemon thread.

    ``delay`` holds every UDP answer that long; ``service`` makes it a resolver that falls behind: it
    answers one UDP question every ``service`` seconds, in arrival order, however many wait (a queue of
    questions, as a resolver with more in flight than it answers per second has); ``max_outstanding`` is
    the most questions received but not yet answered at any moment (what a client keeps in flight).
    ``queue`` (with ``service``) makes it a resolver that drops rather than queues: a question that finds
    ``queue`` others waiting is dropped unanswered (a rate limit, a full socket buffer); ``dropped`` counts them.
    """

    def __init__(self, behaviour: Behaviour, *, delay: float = 0.0, service: float = 0.0, queue: int = 0) -> None:
        self.behaviour = behaviour
        self.delay = delay
        self.service = service
        self.queue = queue
        self.dropped = 0
        self._busy_until = 0.0
        self.queries: list[tuple[str, str, str]] = []
        self.max_outstanding = 0
        self._outstanding = 0
        self._pending: list[tuple[float, int, bytes, Any]] = []
        self._seq = 0
        self._stop = threading.Event()
        self.udp, self.tcp = self._bind()
        self.udp.setblocking(False)
        self.port = self.udp.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @staticmethod
    def _bind() -> tuple[socket.socket, socket.socket]:
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            return udp, tcp
        raise RuntimeError("no free port pair")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.udp.close()
        self.tcp.close()

    def _handle(self, wire: bytes, via: str) -> list[bytes]:
        try:
            request = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - a hostile datagram is dropped, as a real server would
            return []
        q = request.question[0]
        self.queries.append((q.name.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(q.rdtype), via))
        return self.behaviour(self, request, wire, via)

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "tcp")
        while not self._stop.is_set():
            now = time.monotonic()
            while self._pending and self._pending[0][0] <= now:
                _, _, data, addr = heapq.heappop(self._pending)
                if data:
                    self.udp.sendto(data, addr)
                else:
                    self._outstanding -= 1
            wait = 0.05 if not self._pending else max(0.0, min(0.05, self._pending[0][0] - now))
            for key, _ in sel.select(wait):
                if key.data == "udp":
                    self._udp_ready()
                else:
                    self._tcp_ready()
        sel.close()

    def _udp_ready(self) -> None:
        for _ in range(256):
            try:
                wire, addr = self.udp.recvfrom(65535)
            except BlockingIOError:
                return
            if self.queue and self._outstanding >= self.queue:
                self.dropped += 1
                continue
            replies = self._handle(wire, "udp")
            if self.delay <= 0 and self.service <= 0:
                for data in replies:
                    self.udp.sendto(data, addr)
            else:
                self._outstanding += 1
                self.max_outstanding = max(self.max_outstanding, self._outstanding)
                due = time.monotonic() + self.delay
                if self.service > 0:  # after every question that came before it
                    due = self._busy_until = max(due, self._busy_until) + self.service
                for data in [*replies, b""]:  # b"": marks the question answered
                    self._seq += 1
                    heapq.heappush(self._pending, (due, self._seq, data, addr))

    def _tcp_ready(self) -> None:
        conn, _ = self.tcp.accept()
        conn.settimeout(2)
        try:
            size = struct.unpack("!H", _recv_exact(conn, 2))[0]
            for data in self._handle(_recv_exact(conn, size), "tcp"):
                conn.sendall(struct.pack("!H", len(data)) + data)
        except (OSError, struct.error):
            pass
        finally:
            conn.close()


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    out = b""
    while len(out) < size:
        chunk = conn.recv(size - len(out))
        if not chunk:
            raise OSError("closed")
        out += chunk
    return out
