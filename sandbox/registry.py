"""The registry-side services: RDAP (RFC 9083 JSON), a crt.sh-compatible CT search, an NRD feed."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
from datetime import datetime
from email.utils import formatdate
from urllib.parse import parse_qs, unquote

from sandbox.feeds import gzip_bytes, lines, zip_bytes
from sandbox.hostile import send_header_flood
from sandbox.model import CertEntry, DomainState
from sandbox.state import LiveState
from sandbox.tcp import Request, TcpServer, read_request, send_response

JSON_RDAP = "application/rdap+json"


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def rdap_domain(domain: DomainState, base_url: str) -> dict[str, object]:
    reg = domain.rdap
    assert reg is not None
    registrar: dict[str, object] = {
        "objectClassName": "entity", "handle": reg.registrar_iana_id or reg.registrar.split()[0].upper(),
        "roles": ["registrar"],
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", reg.registrar]]],
    }
    if reg.registrar_iana_id:
        registrar["publicIds"] = [{"type": "IANA Registrar ID", "identifier": reg.registrar_iana_id}]
    entities: list[dict[str, object]] = [registrar]
    if reg.registrant_country:
        entities.append({"objectClassName": "entity", "roles": ["registrant"], "vcardArray": [
            "vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "REDACTED FOR PRIVACY"],
                      ["adr", {"cc": reg.registrant_country}, "text", ["", "", "", "", "", "", ""]]]]})
    return {
        "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_0"],
        "objectClassName": "domain",
        "handle": f"{domain.name.upper().replace('.', '_')}-SANDBOX",
        "ldhName": domain.name,
        "status": list(reg.statuses),
        "events": [
            {"eventAction": "registration", "eventDate": _iso(reg.registered)},
            {"eventAction": "expiration", "eventDate": _iso(reg.expires)},
            {"eventAction": "last changed", "eventDate": _iso(reg.updated)},
        ],
        "entities": entities,
        "nameservers": [{"objectClassName": "nameserver", "ldhName": ns} for ns in reg.nameservers],
        "secureDNS": {"delegationSigned": False},
        "links": [{"value": f"{base_url}domain/{domain.name}", "rel": "self",
                   "href": f"{base_url}domain/{domain.name}", "type": JSON_RDAP}],
        "notices": [{"title": "Terms of Use", "description": ["hydrawatch sandbox registry: simulated data."]}],
    }


def crtsh_rows(certs: tuple[CertEntry, ...], pattern: str) -> list[dict[str, object]]:
    """crt.sh JSON rows for certificates with a name matching the LIKE pattern (case-insensitive)."""
    regex = re.compile("^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c)
                                      for c in pattern.lower()) + "$")
    rows: list[dict[str, object]] = []
    for cert in certs:
        if any(regex.match(n.lower()) for n in cert.names):
            rows.append({
                "issuer_ca_id": cert.issuer_ca_id, "issuer_name": cert.issuer_name,
                "common_name": cert.names[0], "name_value": "\n".join(cert.names), "id": cert.id,
                "entry_timestamp": cert.entry_timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                "not_before": cert.not_before.strftime("%Y-%m-%dT%H:%M:%S"),
                "not_after": cert.not_after.strftime("%Y-%m-%dT%H:%M:%S"),
                "serial_number": cert.serial_number, "result_count": 0,
            })
    rows.sort(key=lambda r: r["id"], reverse=True)  # type: ignore[arg-type,return-value]
    for row in rows:
        row["result_count"] = len(rows)
    return rows


class RegistryServices:
    """Three small HTTP servers: RDAP at /domain/<name>, CT at /?q=…&output=json, NRD at /nrd.txt."""

    def __init__(self, state: LiveState, host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> None:
        ports = ports or {}
        self.state = state
        self._ct_limited: set[str] = set()  # queries "ct-429" already refused once
        self.rdap = TcpServer(self._rdap, host, ports.get("rdap", 0), name="rdap")
        self.ct = TcpServer(self._ct, host, ports.get("ct", 0), name="ct")
        self.nrd = TcpServer(self._nrd, host, ports.get("nrd", 0), name="nrd")
        self.rdap_requests: list[str] = []  # every name asked of RDAP, in order (Sandbox.reset clears)
        self.rdap_in_flight = 0  # RDAP requests being answered now …
        self.rdap_peak = 0  # … and the most at once (Sandbox.reset clears)
        self.rdap_started: list[float] = []  # time.monotonic() as each RDAP request was read (reset clears)
        self._lock = threading.Lock()
        self._refused_once: set[str] = set()

    def start(self) -> None:
        for server in (self.rdap, self.ct, self.nrd):
            server.start()

    def stop(self) -> None:
        for server in (self.rdap, self.ct, self.nrd):
            server.stop()

    def _rdap(self, conn: socket.socket) -> None:
        request = read_request(conn)
        if request is None:
            return
        with self._lock:
            self.rdap_in_flight += 1
            self.rdap_started.append(time.monotonic())
            self.rdap_peak = max(self.rdap_peak, self.rdap_in_flight)
        try:
            if self.state.service_behaviour("rdap") == "rdap-slow":
                time.sleep(0.3)
            self._rdap_answer(conn, request)
        finally:
            with self._lock:
                self.rdap_in_flight -= 1

    def _rdap_answer(self, conn: socket.socket, request: Request) -> None:
        view = self.state.view
        path = unquote(request.path)
        if not path.startswith("/domain/"):
            return _json(conn, 400, {"errorCode": 400, "title": "only /domain/<name> is served here"})
        name = path[len("/domain/"):].strip("/").lower().rstrip(".")
        with self._lock:
            self.rdap_requests.append(name)
            first = name not in self._refused_once
            self._refused_once.add(name)
        domain = view.domains.get(name)
        behaviour = self.state.service_behaviour("rdap") or self.state.behaviour(domain, "rdap", name)
        if behaviour == "rdap-429-date" and first:
            return send_response(conn, 429, [("Content-Type", JSON_RDAP),
                                             ("Retry-After", formatdate(time.time() + 2, usegmt=True))],
                                 b'{"errorCode":429,"title":"Too Many Requests"}')
        if behaviour == "rdap-500":
            return _json(conn, 500, {"errorCode": 500, "title": "Internal Server Error"})
        if behaviour == "rdap-429":
            return send_response(conn, 429, [("Content-Type", JSON_RDAP), ("Retry-After", "2")],
                                 b'{"errorCode":429,"title":"Too Many Requests"}')
        if behaviour == "rdap-header-flood":
            return send_header_flood(conn, endless=True, stopping=self.rdap.stopping)
        if behaviour == "rdap-malformed":
            return send_response(conn, 200, [("Content-Type", JSON_RDAP)], b'{"objectClassName": "domain", "ldhN')
        if domain is None or domain.rdap is None:
            return _json(conn, 404, {"errorCode": 404, "title": "Not Found",
                                     "description": [f"{name} is not registered"]})
        base = f"http://{request.headers.get('host', '127.0.0.1')}/"
        return _json(conn, 200, rdap_domain(domain, base))

    def asked(self) -> list[str]:
        with self._lock:
            return list(self.rdap_requests)

    def started(self) -> list[float]:
        with self._lock:
            return list(self.rdap_started)

    def clear(self) -> None:
        with self._lock:
            self.rdap_requests.clear()
            self._refused_once.clear()
            self.rdap_peak = 0
            self.rdap_started.clear()

    def _ct(self, conn: socket.socket) -> None:
        request = read_request(conn)
        if request is None:
            return
        behaviour = self.state.service_behaviour("ct")
        if behaviour == "ct-500":
            return send_response(conn, 502, [("Content-Type", "text/html")], b"<html>502 Bad Gateway</html>")
        if behaviour == "ct-garbage":
            return send_response(conn, 200, [("Content-Type", "text/html")],
                                 b"<html><body>crt.sh is overloaded, try later</body></html>")
        params = parse_qs(request.query, keep_blank_values=True)
        pattern = (params.get("q") or params.get("identity") or [""])[0]
        if behaviour == "ct-429" and pattern not in self._ct_limited:  # busy: the first ask of each query
            self._ct_limited.add(pattern)
            return send_response(conn, 429, [("Content-Type", "text/plain"), ("Retry-After", "1")],
                                 b"Too Many Requests\n")
        if not pattern:
            return send_response(conn, 400, [("Content-Type", "text/plain")], b"q= is required\n")
        rows = crtsh_rows(self.state.view.certificates, pattern)
        if (params.get("output") or [""])[0] != "json":
            html = "".join(f"<tr><td>{r['id']}</td><td>{r['name_value']}</td></tr>" for r in rows)
            return send_response(conn, 200, [("Content-Type", "text/html")], f"<table>{html}</table>".encode())
        return _json(conn, 200, rows, content_type="application/json")

    def _nrd(self, conn: socket.socket) -> None:
        request = read_request(conn)
        if request is None:
            return
        if self.state.service_behaviour("nrd") == "nrd-500":
            return send_response(conn, 500, [("Content-Type", "text/plain")], b"internal error\n")
        behaviour = self.state.service_behaviour("nrd")
        if request.path != "/nrd.txt":
            published = published_nrd(request.path, list(self.state.view.nrd))
            if published is None:
                return send_response(conn, 404, [("Content-Type", "text/plain")], b"not found\n")
            body, content_type = published
            tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("if-none-match") == tag:
                return send_response(conn, 304, [("ETag", tag)], b"")
            return send_response(conn, 200, [("Content-Type", content_type), ("ETag", tag)], body,
                                 request.method == "HEAD")
        if behaviour == "nrd-huge":
            return _stream_huge_feed(conn, request.method == "HEAD")
        names = list(self.state.view.nrd)
        if behaviour == "nrd-garbage":
            names = [*names[: len(names) // 2], *NRD_GARBAGE, *names[len(names) // 2:]]
        body = "".join(f"{name}\n" for name in names).encode("utf-8", "surrogateescape")
        return send_response(conn, 200, [("Content-Type", "text/plain; charset=utf-8")], body,
                             request.method == "HEAD")


def published_nrd(path: str, names: list[str]) -> tuple[bytes, str] | None:
    """The world's NRD list as daily files are published (any day: the list is the phase's):
    ``/nrd/<YYYY-MM-DD>.txt``, ``.txt.gz``, ``.zip`` (the names split over two members), and WhoisDS's
    ``/whoisds/<base64 of YYYY-MM-DD.zip>/nrd``. None for any other path."""
    if path.startswith("/whoisds/") and path.endswith("/nrd"):
        try:
            wanted = base64.b64decode(path[len("/whoisds/"):-len("/nrd")], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        path = f"/nrd/{wanted}"
    match = re.fullmatch(r"/nrd/(\d{4}-\d{2}-\d{2})\.(txt|txt\.gz|zip)", path)
    if match is None:
        return None
    text = lines(names)
    if match.group(2) == "txt":
        return text, "text/plain; charset=utf-8"
    if match.group(2) == "txt.gz":
        return gzip_bytes(text), "application/gzip"
    half = len(names) // 2
    return zip_bytes({"domain-names.txt": lines(names[:half]), "more/domain-names-2.txt": lines(names[half:])}), \
        "application/zip"


NRD_GARBAGE = (
    "-not-a-domain-.com", "exa mple.org", "<script>alert(1)</script>.com", "a" * 5000 + ".com",
    "\x1b[31mred.com", "..", "xn--.com", "%00.com", "\udcff\udcfe.com", "http://", "1.2.3.4",
    "trailing-dot-ok.com.", "UPPER-CASE.COM,2024-09-05,extra,fields",
)
NRD_HUGE_LINES = 1_000_000


def _stream_huge_feed(conn: socket.socket, head_only: bool) -> None:
    """10^6 generated names (about 20 MB), streamed with no Content-Length, then close."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
    if head_only:
        return
    batch = 20_000
    for start in range(0, NRD_HUGE_LINES, batch):
        conn.sendall("".join(f"bulk-{i:07d}-registrations.com\n" for i in range(start, start + batch)).encode())


def _json(conn: socket.socket, status: int, data: object, content_type: str = JSON_RDAP) -> None:
    send_response(conn, status, [("Content-Type", content_type)], json.dumps(data, indent=1).encode("utf-8"))
