"""A passive-DNS server in the CIRCL REST/JSON format: ``GET /query/<value>`` with HTTP basic auth
answers one Common Output Format object a line (rrname, rrtype, rdata, time_first, time_last, count).

Its memory is the world's history up to the current phase: every A, AAAA and NS record a domain served
in this phase or an earlier one, first and last seen at those phases' clocks (a seized site's old address
keeps pointing at it, as in real pDNS). A query by address or name-server name gives the records whose
rdata is that value; by a domain name, that name's own records. Service behaviours: ``pdns-429`` (with
Retry-After: 1), ``pdns-garbage`` (junk lines among the records), ``pdns-500``.
"""

from __future__ import annotations

import base64
import json
import socket
from dataclasses import dataclass
from urllib.parse import unquote

from sandbox.state import LiveState
from sandbox.tcp import LoggedService, read_request, send_response

USER = "sandbox"
PASSWORD = "pdns-sandbox-secret"


@dataclass
class _Seen:
    first: int
    last: int
    count: int


class PdnsServer(LoggedService):
    def __init__(self, state: LiveState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, "pdns")
        self.state = state

    def history(self) -> dict[tuple[str, str, str], _Seen]:
        """(rrname, rrtype, rdata) → first/last seen, over the phases up to the current one."""
        world = self.state.world
        current = self.state.view.name
        seen: dict[tuple[str, str, str], _Seen] = {}
        for phase in world.phases:
            view = world.views[phase]
            stamp = int(view.clock.timestamp())
            for domain in view.domains.values():
                if not domain.resolves:
                    continue
                for rrtype, values in (("A", domain.a), ("AAAA", domain.aaaa), ("NS", domain.ns)):
                    for value in values:
                        key = (domain.name, rrtype, value.lower().rstrip("."))
                        entry = seen.get(key)
                        if entry is None:
                            seen[key] = _Seen(stamp, stamp, 1)
                        else:
                            entry.last, entry.count = stamp, entry.count + 1
            if phase == current:
                break
        return seen

    def _serve(self, conn: socket.socket) -> None:
        request = read_request(conn)
        if request is None:
            return
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode("ascii")
        if request.headers.get("authorization") != expected:
            return send_response(conn, 401, [("WWW-Authenticate", 'Basic realm="pdns"'),
                                             ("Content-Type", "text/plain")], b"authentication required\n")
        if not request.path.startswith("/query/"):
            return send_response(conn, 404, [("Content-Type", "text/plain")], b"only /query/<value>\n")
        value = unquote(request.path[len("/query/"):]).strip("/").lower().rstrip(".")
        self._log(value)
        behaviour = self.state.service_behaviour("pdns")
        if behaviour == "pdns-429":
            return send_response(conn, 429, [("Retry-After", "1"), ("Content-Type", "text/plain")], b"slow down\n")
        if behaviour == "pdns-500":
            return send_response(conn, 500, [("Content-Type", "text/plain")], b"internal error\n")
        lines = [json.dumps({"count": s.count, "origin": "sandbox", "time_first": s.first, "rrtype": rrtype,
                             "rrname": name, "rdata": rdata, "time_last": s.last})
                 for (name, rrtype, rdata), s in sorted(self.history().items())
                 if rdata == value or name == value]
        if behaviour == "pdns-garbage":
            lines = ["{not json", '["a list"]', '{"rrname": "x.example"}', *lines, "\x00\xff garbage"]
        if not lines:
            return send_response(conn, 404, [("Content-Type", "text/plain")], b"")
        body = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
        return send_response(conn, 200, [("Content-Type", "application/x-ndjson")], body)
