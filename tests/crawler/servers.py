"""Real loopback servers for the crawler tests, named by behaviour (like Scrapy's mockserver).

All run on the shared reactor loop, on port 0. ``HostileSite`` answers by path:
  /ok /redirect/chain/N /loop/a /to?url=U /huge /gzip-bomb /drip /reset /garbage /icon.png
  /favicon.ico /rdap/domain/NAME /ct?q=… /feed.txt and anything set in ``routes``.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

import dns.message
import dns.rcode
import dns.rrset

Handler = Callable[[str, dict[str, str], asyncio.StreamWriter], Awaitable[None]]

PAGE = (b"<!doctype html><html><head><title>Hostile test site</title>"
        b'<link rel="shortcut icon" href="/icon.png"></head><body><a href="https://out.example/">x</a>'
        b"</body></html>")
ICON = b"\x89PNG\r\n\x1a\nfake-icon-bytes"


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    head = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in head.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HostileSite:
    """An HTTP(S) server whose paths misbehave on purpose."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.routes: dict[str, Handler] = {}
        self.requests: list[str] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first_byte = await asyncio.wait_for(reader.readexactly(1), 10)
            if first_byte == b"\x16":  # a TLS ClientHello on a plain port: hang up at once
                return
            head = first_byte + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            first, *lines = head.decode("latin-1").split("\r\n")
            _, target, _ = first.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)}
            self.requests.append(target)
            await self.handle(target, headers, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def handle(self, target: str, headers: dict[str, str], w: asyncio.StreamWriter) -> None:
        path = urlsplit(target).path
        query = parse_qs(urlsplit(target).query)
        if path in self.routes:
            await self.routes[path](target, headers, w)
        elif path in ("/", "/ok", "/about/"):
            w.write(response(200, PAGE, {"Content-Type": "text/html; charset=utf-8", "X-Test": "yes"}))
        elif path == "/icon.png":
            w.write(response(200, ICON, {"Content-Type": "image/png"}))
        elif path.startswith("/redirect/chain/"):
            n = int(path.rsplit("/", 1)[1])
            w.write(response(302, headers={"Location": f"/redirect/chain/{n - 1}" if n > 1 else "/ok"}))
        elif path == "/loop/a":
            w.write(response(301, headers={"Location": "/loop/b"}))
        elif path == "/loop/b":
            w.write(response(301, headers={"Location": "/loop/a"}))
        elif path == "/to":
            w.write(response(302, headers={"Location": query["url"][0]}))
        elif path == "/huge":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
            for _ in range(64):
                w.write(b"A" * 65536)
                await w.drain()
        elif path == "/gzip-bomb":
            bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
            w.write(response(200, bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"}))
        elif path == "/drip":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
            for _ in range(200):
                w.write(b"x")
                await w.drain()
                await asyncio.sleep(0.1)
        elif path == "/reset":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n" + b"y" * 1000)
            await w.drain()
            w.transport.abort()
            return
        elif path == "/garbage":
            w.write(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http at all\r\n\r\n")
        else:
            w.write(response(404, b"not found"))
        await w.drain()


def self_signed(names: list[str]) -> tuple[ssl.SSLContext, bytes]:
    """A server context with a fresh self-signed certificate for ``names``; returns (ctx, DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False).sign(key, hashes.SHA256()))
    tmp = Path(tempfile.mkdtemp())
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    return ctx, cert.public_bytes(serialization.Encoding.DER)


class TinyDns(asyncio.DatagramProtocol):
    """An authoritative-ish UDP DNS server: ``zone`` maps names to A/AAAA addresses; else NXDOMAIN."""

    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.queries: list[str] = []

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.transport is not None
        self.transport.close()

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - a hostile datagram is dropped, as a real server would
            return
        reply = dns.message.make_response(query)
        q = query.question[0]
        name = q.name.to_text().rstrip(".").lower()
        self.queries.append(name)
        if name not in self.zone:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rtype = dns.rdatatype.to_text(q.rdtype)
            values = [ip for ip in self.zone[name] if (":" in ip) == (rtype == "AAAA")]
            if values and rtype in ("A", "AAAA"):
                reply.answer.append(dns.rrset.from_text_list(q.name, 60, "IN", rtype, values))
        assert self.transport is not None
        self.transport.sendto(reply.to_wire(), addr)


class ForwardProxy:
    """An HTTP forward proxy: absolute-URI GETs are relayed, CONNECT opens a tunnel. Logs targets."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            first = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, target, _ = first.split(" ", 2)
            self.seen.append(f"{method} {target}")
            if method == "CONNECT":
                _host, port = target.rsplit(":", 1)
                up_r, up_w = await asyncio.open_connection("127.0.0.1", int(port))  # test names → loopback
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
                return
            parts = urlsplit(target)
            up_r, up_w = await asyncio.open_connection("127.0.0.1", parts.port or 80)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            up_w.write(head.replace(target.encode(), path.encode(), 1))
            await up_w.drain()
            await _pipe(up_r, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except ConnectionError:
        pass
    finally:
        dst.close()
