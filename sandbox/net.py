"""Sandbox: the whole offline internet of one world, started and stopped as one unit.

    with Sandbox.start("doppelganger-2024", "before") as sb:
        config = from_mapping({**sb.config_overrides(), "storage": {...}})
        ...
        sb.set_phase("seizure")
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Self

from sandbox.ca import SandboxCA
from sandbox.dns_server import DnsServer
from sandbox.errors import SandboxStartError
from sandbox.hostile import Payloads
from sandbox.model import PhaseView, TlsSpec
from sandbox.pdns import PASSWORD as PDNS_PASSWORD
from sandbox.pdns import USER as PDNS_USER
from sandbox.pdns import PdnsServer
from sandbox.proxy import ForwardProxy
from sandbox.registry import RegistryServices
from sandbox.smtp import AuthSeen, SmtpSink
from sandbox.state import LiveState
from sandbox.web import WebFront
from sandbox.whois import WhoisServer
from sandbox.world import World, load_world

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
PORT_NAMES = ("dns", "proxy", "http", "https", "rdap", "ct", "nrd", "smtp", "smtps", "whois", "pdns")
MODES = ("proxy", "direct")


def direct_ip_map(world: World, block: int) -> dict[str, str]:
    """World IPv4 addresses -> distinct loopback addresses 127.<block>.x.y, in sorted order."""
    ips = sorted({ip for view in world.views.values()
                  for d in (*view.domains.values(), *([view.wildcard] if view.wildcard else [])) for ip in d.a},
                 key=lambda s: tuple(int(p) for p in s.split(".")))
    return {ip: f"127.{block}.{i // 250}.{i % 250 + 1}" for i, ip in enumerate(ips)}


class Sandbox:
    def __init__(self, world: World, phase: str, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown sandbox mode {mode!r} (known: {', '.join(MODES)})")
        self.world = world
        self.mode = mode
        self._state = LiveState(world, phase)
        self.ca = SandboxCA()
        self.payloads = Payloads()
        self._parts: list[Any] = []
        self.ports: dict[str, int] = {}
        self.smtp: SmtpSink | None = None
        self.smtps: SmtpSink | None = None
        self.proxy: ForwardProxy | None = None
        self.fronts: list[WebFront] = []
        self.registry: RegistryServices | None = None
        self.whois: WhoisServer | None = None
        self.pdns: PdnsServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def start(cls, world: str | Path | Mapping[str, Any] = "doppelganger-2024", phase: str | None = None, *,
              mode: str = "proxy", ports: dict[str, int] | None = None) -> Sandbox:
        """Load the world and start every server on 127.0.0.1 (port 0 = ephemeral)."""
        loaded = world if isinstance(world, World) else load_world(world)
        sandbox = cls(loaded, phase or loaded.phases[0], mode)
        unknown = set(ports or {}) - set(PORT_NAMES)
        if unknown:
            raise ValueError(f"unknown port name {min(unknown)!r} (known: {', '.join(PORT_NAMES)})")
        try:
            sandbox._start_servers(dict(ports or {}))
        except BaseException:
            sandbox.stop()
            raise
        return sandbox

    def _start_servers(self, ports: dict[str, int]) -> None:
        state = self._state
        if self.mode == "direct":
            self._start_direct()
        dns = DnsServer(state, HOST, ports.get("dns", 0))
        self._add(dns, "dns", dns.port)
        http = WebFront(state, self.ca, self.payloads, tls=False, host=HOST, port=ports.get("http", 0))
        self._add(http, "http", http.port)
        https = WebFront(state, self.ca, self.payloads, tls=True, host=HOST, port=ports.get("https", 0))
        self._add(https, "https", https.port)
        self.fronts = [http, https]
        proxy = ForwardProxy(state, http.port, https.port, HOST, ports.get("proxy", 0))
        self._add(proxy, "proxy", proxy.port)
        self.proxy = proxy
        registry = RegistryServices(state, HOST, ports)
        self._add(registry, "rdap", registry.rdap.port)
        self.registry = registry
        whois = WhoisServer(state, HOST, ports.get("whois", 0))
        self._add(whois, "whois", whois.port)
        self.whois = whois
        pdns = PdnsServer(state, HOST, ports.get("pdns", 0))
        self._add(pdns, "pdns", pdns.port)
        self.pdns = pdns
        self.ports["ct"] = registry.ct.port
        self.ports["nrd"] = registry.nrd.port
        # SMTP with STARTTLS offered, and SMTPS (implicit TLS) into the same mailbox; both certificates
        # are the sandbox CA's (alerts.smtp_ca_file = Sandbox.ca_file) and name 127.0.0.1.
        smtp_tls = self.ca.context_for(TlsSpec(names=(HOST,)))
        self.smtp = SmtpSink(HOST, ports.get("smtp", 0), tls=smtp_tls)
        self._add(self.smtp, "smtp", self.smtp.port)
        self.smtps = SmtpSink(HOST, ports.get("smtps", 0), tls=smtp_tls, implicit_tls=True,
                              messages=self.smtp.messages, auths=self.smtp.auths, lock=self.smtp.lock,
                              hold=self.smtp.hold)
        self._add(self.smtps, "smtps", self.smtps.port)

    def _add(self, part: Any, name: str, port: int) -> None:
        part.start()
        self._parts.append(part)
        self.ports[name] = int(port)

    def _start_direct(self) -> None:
        """Sites on port 80/443 of one loopback address per world IP (needs root)."""
        last: Exception | None = None
        for block in range(77, 100):
            ip_map = direct_ip_map(self.world, block)
            fronts: list[WebFront] = []
            try:
                for loopback in ip_map.values():
                    for tls, port in ((False, 80), (True, 443)):
                        front = WebFront(self._state, self.ca, self.payloads, tls=tls, host=loopback, port=port)
                        fronts.append(front)
            except SandboxStartError as exc:
                for front in fronts:
                    front.stop()
                if isinstance(exc.__context__, PermissionError) or "Permission denied" in str(exc) \
                        or f"[Errno {errno.EACCES}]" in str(exc):
                    raise SandboxStartError(
                        "direct mode needs root (or CAP_NET_BIND_SERVICE) to bind port 80/443 on 127.x.y.z; "
                        "use mode='proxy'") from None
                last = exc
                continue
            for front in fronts:
                front.start()
                self._parts.append(front)
            self._state.ip_map = MappingProxyType(ip_map)
            return
        raise SandboxStartError(f"direct mode: no free loopback block for port 80/443: {last}")

    def stop(self) -> None:
        """Stop every server (idempotent)."""
        for part in reversed(self._parts):
            try:
                part.stop()
            except Exception:
                log.exception("sandbox: failed to stop %r", part)
        self._parts.clear()
        self.ca.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- the world ---------------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        return self._state.view.name

    @property
    def phases(self) -> tuple[str, ...]:
        return self.world.phases

    @property
    def view(self) -> PhaseView:
        return self._state.view

    def set_phase(self, name: str) -> None:
        """Switch DNS, web, RDAP, CT and NRD to another phase at once (one reference swap)."""
        self._state.set_phase(name)
        log.info("sandbox %s: phase %s", self.world.name, name)

    def clock(self) -> datetime:
        """The current phase's simulated UTC time (from the world file)."""
        return self._state.view.clock

    @property
    def seeds(self) -> tuple[str, ...]:
        return self.world.seeds

    @property
    def campaign(self) -> str:
        return self.world.campaign

    @property
    def ca_pem(self) -> str:
        return self.ca.pem

    @property
    def ip_map(self) -> Mapping[str, str]:
        """World IP -> loopback address (direct mode); empty in proxy mode."""
        return self._state.ip_map

    @property
    def proxy_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Every request the forward proxy received: (method, target, lower-case headers); reset() clears."""
        assert self.proxy is not None
        return self.proxy.requests

    @property
    def site_requests(self) -> list[tuple[str, str, str, dict[str, str]]]:
        """Every request the web fronts read: (scheme, method, target, lower-case headers); reset() clears.
        Through the proxy the crawler tunnels to addresses, so this is where the names and headers it sent are."""
        return [r for front in self.fronts for r in front.requests]

    @property
    def site_request_times(self) -> list[tuple[float, float, str]]:
        """Every request the web fronts answered: (time.monotonic() as it was read, as its answer was sent,
        the Host header's name), by the time it was read; reset() clears. A front logs a request after its
        answer went out, so a client can be done before the log is: requests still being answered are waited
        for (up to 10 s)."""
        deadline = time.monotonic() + 10
        while any(front.answering for front in self.fronts) and time.monotonic() < deadline:
            time.sleep(0.01)
        return sorted(r for front in self.fronts for r in front.served)

    @property
    def rdap_requests(self) -> list[str]:
        """Every name the RDAP server was asked about, in order; reset() clears."""
        assert self.registry is not None
        return self.registry.asked()

    @property
    def rdap_peak(self) -> int:
        """The most RDAP requests the server was answering at once; reset() clears."""
        assert self.registry is not None
        return self.registry.rdap_peak

    @property
    def rdap_request_times(self) -> list[float]:
        """time.monotonic() as each RDAP request was read, in order; reset() clears."""
        assert self.registry is not None
        return self.registry.started()

    @property
    def whois_queries(self) -> list[str]:
        """Every query line the WHOIS server read, in order; reset() clears."""
        assert self.whois is not None
        return self.whois.asked()

    @property
    def whois_peak(self) -> int:
        """The most WHOIS queries the server was answering at once; reset() clears."""
        assert self.whois is not None
        return self.whois.peak

    @property
    def whois_request_times(self) -> list[float]:
        """time.monotonic() as each WHOIS query line was read, in order; reset() clears."""
        assert self.whois is not None
        return self.whois.started()

    @property
    def pdns_queries(self) -> list[str]:
        """Every value the passive-DNS server was asked about, in order; reset() clears."""
        assert self.pdns is not None
        return self.pdns.asked()

    def pdns_settings(self) -> dict[str, str]:
        """The [discovery] keys that point hydrawatch's pDNS route at this sandbox (off by default: a
        world's tests opt in, as the real source needs an account)."""
        return {"pdns_url": f"{self.url('pdns')}query/", "pdns_user": PDNS_USER, "pdns_password": PDNS_PASSWORD}

    def set_behaviour(self, domain: str, behaviour: str | None) -> None:
        """Switch a hostile behaviour on for a domain (one per kind: dns-*, rdap-*, web); None clears."""
        self._state.set_behaviour(domain, behaviour)

    def set_service_behaviour(self, service: str, behaviour: str | None) -> None:
        """Make a whole service misbehave: ("ct", "ct-garbage"|"ct-500"|"ct-429"), ("nrd", "nrd-500"), ("rdap", …)."""
        self._state.set_service_behaviour(service, behaviour)

    def reset(self, phase: str | None = None) -> None:
        """Back to a phase (default: the first), no run-time behaviours, SMTP up, no recorded mail."""
        self.set_phase(phase or self.phases[0])
        self._state.clear_behaviours()
        self.payloads.forget()
        if self.proxy is not None:
            self.proxy.requests.clear()
        for front in self.fronts:
            front.requests.clear()
            front.served.clear()
        if self.registry is not None:
            self.registry.clear()
        if self.whois is not None:
            self.whois.clear()
        if self.pdns is not None:
            self.pdns.clear()
        self.smtp_up()
        self.smtp_hold(False)
        assert self.smtp is not None
        with self.smtp.lock:
            self.smtp.messages.clear()
            self.smtp.auths.clear()
            self.smtp.hold.held = 0

    # -- mail ----------------------------------------------------------------------------------------
    @property
    def messages(self) -> list[EmailMessage]:
        assert self.smtp is not None
        return self.smtp.messages

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.smtp is not None
        return self.smtp.snapshot()

    @property
    def smtp_auths(self) -> list[AuthSeen]:
        """Every AUTH the SMTP servers (plain/STARTTLS and SMTPS) received, with its login."""
        assert self.smtp is not None
        with self.smtp.lock:
            return list(self.smtp.auths)

    @property
    def ca_file(self) -> str:
        """The sandbox CA as a PEM file, for clients that take a CA file (alerts.smtp_ca_file)."""
        return str(self.ca.pem_file())

    def smtp_down(self) -> None:
        for sink in (self.smtp, self.smtps):
            assert sink is not None
            sink.stop()

    def smtp_up(self) -> None:
        for sink in (self.smtp, self.smtps):
            assert sink is not None
            if not sink.running:
                sink.start()

    def smtp_hold(self, on: bool) -> None:
        """Hold (True) or release (False) the SMTP servers' replies to DATA: a held message is recorded,
        but its sender waits for the 250 (a deliverer killed then never learns it was accepted)."""
        assert self.smtp is not None
        (self.smtp.hold.on.set if on else self.smtp.hold.on.clear)()

    @property
    def smtp_held(self) -> int:
        """How many messages the SMTP servers have held so far (see :meth:`smtp_hold`)."""
        assert self.smtp is not None
        with self.smtp.lock:
            return self.smtp.hold.held

    # -- pointing hydrawatch at it ------------------------------------------------------------------
    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}/"

    def _suffixes(self) -> list[str]:
        """The TLD of every domain of the world: RDAP servers are chosen by TLD (crawler/rdap.py), and
        the sandbox must not lean on the Public Suffix List code it is there to test."""
        names = {d for view in self.world.views.values() for d in view.domains}
        wildcards = {t.lower() for view in self.world.views.values() for t in view.wildcard_tlds}
        return sorted({n.rstrip(".").rsplit(".", 1)[-1].lower() for n in names if "." in n.rstrip(".")} | wildcards)

    def config_overrides(self) -> dict[str, Any]:
        """The hydrawatch config sections that point every client at this sandbox."""
        direct = self.mode == "direct"
        return {
            "dns": {"nameservers": [f"{HOST}:{self.ports['dns']}"]},
            "crawler": {"proxy": "" if direct else f"http://{HOST}:{self.ports['proxy']}",
                        "allow_private_addresses": direct},
            # Every suffix the world uses, not only "*": a TLD in the bundled IANA bootstrap would
            # otherwise go to its real registry, which is not reachable from here.
            # One loopback server stands for every registry, so it gets every registry's budget at once.
            "rdap": {"servers": {**{tld: self.url("rdap") for tld in self._suffixes()}, "*": self.url("rdap")},
                     "max_per_minute": 100_000, "whois_max_per_minute": 100_000,
                     # used for a TLD only where a test drops it from "servers" (as if it had no RDAP)
                     "whois_servers": {tld: f"{HOST}:{self.ports['whois']}" for tld in self._suffixes()}},
            # The sandbox's CT search answers any pattern at once and never rate-limits, and its worlds change
            # phase within seconds: no politeness pause, no cache, short back-off, every keyword inside names.
            "discovery": {"ct_search_url": f"http://{HOST}:{self.ports['ct']}/?q={{query}}&output=json",
                          "ct_min_interval": 0.0, "ct_cache_hours": 0.0, "ct_backoff": 0.05, "ct_min_keyword": 4,
                          "nrd_feeds": [f"{self.url('nrd')}nrd.txt"]},
            "alerts": {"smtp_host": HOST, "smtp_port": self.ports["smtp"], "mail_to": ["analysts@sandbox.test"],
                       "mail_from": "hydrawatch@sandbox.test"},
        }
