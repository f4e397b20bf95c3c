"""A port-43 WHOIS server (RFC 3912): one query line in, the registry's text out, then close.

Answers in the ICANN registry format most ccTLD registries without RDAP also use ("Creation Date: …"),
from the same registration data the RDAP server shows. Service behaviours (``set_service_behaviour``):
``whois-silent`` (reads the query, answers nothing), ``whois-huge`` (text without end),
``whois-garbage`` (bytes that are no WHOIS answer), ``whois-limit`` (the "query limit exceeded" line
registries send instead of data), ``whois-slow`` (every answer 0.3 s late, so concurrent queries overlap).
The server counts the queries it is answering at once (``peak``) and when each was read (``started``).
"""

from __future__ import annotations

import re
import socket
import time

from sandbox.model import DomainState
from sandbox.state import LiveState
from sandbox.tcp import LoggedService

MAX_QUERY = 1024


def _epp(status: str) -> str:
    """RFC 8056 name → EPP status code: "client hold" → "clientHold"."""
    words = status.split()
    return words[0] + "".join(w.capitalize() for w in words[1:]) if words else status


def whois_text(domain: DomainState) -> str:
    reg = domain.rdap
    assert reg is not None
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    lines = [
        f"Domain Name: {domain.name.upper()}",
        f"Registry Domain ID: {domain.name.upper().replace('.', '_')}-SANDBOX",
        f"Updated Date: {reg.updated.strftime(stamp)}",
        f"Creation Date: {reg.registered.strftime(stamp)}",
        f"Registry Expiry Date: {reg.expires.strftime(stamp)}",
        f"Registrar: {reg.registrar}",
        *(f"Registrar IANA ID: {reg.registrar_iana_id}" for _ in [0] if reg.registrar_iana_id),
        *(f"Domain Status: {_epp(s)} https://icann.org/epp#{_epp(s)}" for s in reg.statuses),
        *(f"Name Server: {ns.upper()}" for ns in reg.nameservers),
        "DNSSEC: unsigned",
        ">>> Last update of WHOIS database: sandbox <<<",
        "",
        "TERMS OF USE: hydrawatch sandbox registry; simulated data.",
    ]
    return "\r\n".join(lines) + "\r\n"


class WhoisServer(LoggedService):
    def __init__(self, state: LiveState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, "whois")
        self.state = state
        self.in_flight = 0  # queries read since the last clear() being answered now …
        self.peak = 0  # … and the most at once (clear() resets)
        self.started_at: list[float] = []  # time.monotonic() as each query line was read (clear() resets)
        self._generation = 0  # clear() starts a new one: an earlier test's silent query no longer counts

    def started(self) -> list[float]:
        with self._lock:
            return list(self.started_at)

    def clear(self) -> None:
        super().clear()
        with self._lock:
            self.peak = 0
            self.in_flight = 0
            self.started_at.clear()
            self._generation += 1

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        while b"\n" not in buf and len(buf) < MAX_QUERY:
            chunk = conn.recv(256)
            if not chunk:
                return
            buf += chunk
        name = buf.split(b"\n", 1)[0].decode("latin-1").strip().lower().rstrip(".")
        self._log(name)
        with self._lock:
            generation = self._generation
            self.in_flight += 1
            self.started_at.append(time.monotonic())
            self.peak = max(self.peak, self.in_flight)
        try:
            self._answer(conn, name)
        finally:
            with self._lock:
                if generation == self._generation:
                    self.in_flight -= 1

    def _answer(self, conn: socket.socket, name: str) -> None:
        behaviour = self.state.service_behaviour("whois")
        if behaviour == "whois-slow":
            time.sleep(0.3)
        if behaviour == "whois-silent":
            self.server.stopping.wait(30)
            return
        if behaviour == "whois-huge":
            line = b"% the sandbox registry has a lot to say about this name\r\n" * 1000
            while not self.server.stopping.is_set():
                conn.sendall(line)
            return
        if behaviour == "whois-garbage":
            conn.sendall(bytes(range(256)) * 4 + b"<html><body>502 Bad Gateway</body></html>\r\n")
            return
        if behaviour == "whois-limit":
            conn.sendall(b"% Query rate limit exceeded. Try again later.\r\n")
            return
        domain = self.state.view.domains.get(name)
        if not re.fullmatch(r"[a-z0-9.-]{1,253}", name) or domain is None or domain.rdap is None:
            conn.sendall(f'No match for "{name.upper()}".\r\n'.encode("latin-1", "replace"))
            return
        conn.sendall(whois_text(domain).encode("utf-8"))
