"""World-file tables for a domain's web site, registration (RDAP) and certificates -> frozen values."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sandbox.errors import WorldError
from sandbox.model import CertEntry, DomainState, Page, Registration, Site, TlsSpec
from sandbox.pages import build_page, builtin_assets, read_bytes
from sandbox.times import parse_time

WEB_KEYS = frozenset({"pages", "catch_all", "favicon", "favicon_b64", "favicon_paths", "https", "http",
                      "redirect_to_https", "tls"})
TLS_KEYS = frozenset({"names", "expired", "self_signed"})
RDAP_KEYS = frozenset({"registrar", "registrar_iana_id", "registered", "expires", "updated", "status",
                       "nameservers", "registrant_country"})
CERT_KEYS = frozenset({"names", "issuer", "issuer_ca_id", "logged", "not_before", "not_after"})
LETS_ENCRYPT = ("C=US, O=Let's Encrypt, CN=R10", 295815)
RDAP_STATUSES = frozenset({
    "validated", "renew prohibited", "update prohibited", "transfer prohibited", "delete prohibited", "proxy",
    "private", "removed", "obscured", "associated", "active", "inactive", "locked", "pending create",
    "pending renew", "pending transfer", "pending update", "pending delete", "add period", "auto renew period",
    "client delete prohibited", "client hold", "client renew prohibited", "client transfer prohibited",
    "client update prohibited", "pending restore", "redemption period", "renew period",
    "server delete prohibited", "server renew prohibited", "server transfer prohibited",
    "server update prohibited", "server hold", "transfer period",
})


def build_site(raw: Any, domain: str, where: str, folder: Path | None) -> Site:
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise WorldError(f"{where}: expected a table or false, got {raw!r}")
    for key in raw:
        if key not in WEB_KEYS:
            raise WorldError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(WEB_KEYS))})")
    pages: dict[str, Page] = {}
    catch_all: Page | None = None
    catch_raw = raw.get("catch_all", False)
    if catch_raw:
        catch_all = build_page(catch_raw, f"{where}.catch_all", folder, domain)
        if isinstance(catch_raw, Mapping) and "builtin" in catch_raw:
            pages.update(builtin_assets(str(catch_raw["builtin"])))
    else:
        pages_raw = raw.get("pages", {})
        if not isinstance(pages_raw, Mapping):
            raise WorldError(f"{where}.pages: expected a table of path = page")
        for path, spec in pages_raw.items():
            if not str(path).startswith("/"):
                raise WorldError(f"{where}.pages: path {path!r} must start with /")
            pages[str(path)] = build_page(spec, f"{where}.pages.{path!r}", folder, domain)
            if isinstance(spec, Mapping) and "builtin" in spec:
                pages.update(builtin_assets(str(spec["builtin"])))
    # a seized or parked front (catch_all) no longer serves the old site's favicon
    favicon = read_bytes(raw["favicon"], f"{where}.favicon", folder) if raw.get("favicon") and not catch_all else None
    if raw.get("favicon_b64") and not catch_all:  # inline worlds carry their favicon bytes as base64
        try:
            favicon = base64.b64decode(str(raw["favicon_b64"]), validate=True)
        except binascii.Error:
            raise WorldError(f"{where}.favicon_b64: not valid base64") from None
    tls: TlsSpec | None = None
    if raw.get("https", True):
        traw = raw.get("tls", {})
        for key in traw:
            if key not in TLS_KEYS:
                raise WorldError(f"{where}.tls: unknown key {key!r} (known: {', '.join(sorted(TLS_KEYS))})")
        names = tuple(str(n) for n in traw.get("names", [domain, f"www.{domain}"]))
        tls = TlsSpec(names=names, expired=bool(traw.get("expired", False)),
                      self_signed=bool(traw.get("self_signed", False)))
    return Site(pages=MappingProxyType(pages), catch_all=catch_all, favicon=favicon,
                favicon_paths=tuple(raw.get("favicon_paths", ["/favicon.ico"])), tls=tls,
                http=bool(raw.get("http", True)), redirect_to_https=bool(raw.get("redirect_to_https", False)))


def build_registration(raw: Any, ns: tuple[str, ...], where: str, clock: datetime) -> Registration:
    if not isinstance(raw, Mapping):
        raise WorldError(f"{where}: expected a table or false, got {raw!r}")
    for key in raw:
        if key not in RDAP_KEYS:
            raise WorldError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(RDAP_KEYS))})")
    if "registered" not in raw:
        raise WorldError(f"{where}.registered: required (the registration date)")
    registered = parse_time(raw["registered"], f"{where}.registered")
    if "expires" in raw:
        expires = parse_time(raw["expires"], f"{where}.expires")
    else:  # yearly renewals: the first anniversary after the phase clock
        years = max(1, clock.year - registered.year)
        expires = _anniversary(registered, years)
        while expires <= clock:
            years += 1
            expires = _anniversary(registered, years)
    statuses = tuple(str(s) for s in raw.get("status", ["client transfer prohibited"]))
    for status in statuses:
        if status not in RDAP_STATUSES:
            raise WorldError(f"{where}.status: unknown RDAP status {status!r} (RFC 8056 names, e.g. 'client hold')")
    return Registration(
        registrar=str(raw.get("registrar", "Example Registrar, Inc.")), registered=registered, expires=expires,
        updated=parse_time(raw["updated"], f"{where}.updated") if "updated" in raw else registered,
        statuses=statuses, nameservers=tuple(str(n) for n in raw.get("nameservers", ns)),
        registrar_iana_id=str(raw.get("registrar_iana_id", "")),
        registrant_country=str(raw.get("registrant_country", "")))


def _anniversary(registered: datetime, years: int) -> datetime:
    """`registered` plus whole years; a 29 February registration renews on 28 February in other years."""
    try:
        return registered.replace(year=registered.year + years)
    except ValueError:
        return registered.replace(year=registered.year + years, day=28)


def cert_id(names: tuple[str, ...], logged: datetime) -> int:
    digest = hashlib.sha256(("|".join(names) + logged.isoformat()).encode()).digest()
    return 9_000_000_000 + int.from_bytes(digest[:4], "big")


def make_cert(names: tuple[str, ...], logged: datetime, issuer: tuple[str, int],
              not_before: datetime | None = None, not_after: datetime | None = None) -> CertEntry:
    nb = not_before or logged - timedelta(hours=1)
    serial = hashlib.sha1(("|".join(names) + logged.isoformat()).encode()).hexdigest()[:36]
    return CertEntry(id=cert_id(names, logged), names=names, issuer_name=issuer[0], issuer_ca_id=issuer[1],
                     not_before=nb, not_after=not_after or nb + timedelta(days=90), entry_timestamp=logged,
                     serial_number=serial)


def default_certificates(state: DomainState, raw: Any, clock: datetime, where: str) -> list[CertEntry]:
    """ct = true: one Let's Encrypt cert for the site's TLS names, logged when the site went up
    (hours after registration, renewed every 60 days). ct = [..]: explicit entries."""
    if raw is False or state.site is None or state.site.tls is None:
        return []
    if isinstance(raw, list):
        return explicit_certificates(raw, where)
    if state.rdap is None:
        return []
    logged = state.rdap.registered + timedelta(hours=3)
    if logged > clock:
        return []
    logged += timedelta(days=60) * ((clock - logged) // timedelta(days=60))  # renewed every 60 days
    return [make_cert(tuple(state.site.tls.names), logged, LETS_ENCRYPT)]


def explicit_certificates(raw: Any, where: str) -> list[CertEntry]:
    if not isinstance(raw, list):
        raise WorldError(f"{where}: expected a list of certificate tables")
    out = []
    for i, item in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise WorldError(f"{w}: expected a table")
        for key in item:
            if key not in CERT_KEYS:
                raise WorldError(f"{w}: unknown key {key!r} (known: {', '.join(sorted(CERT_KEYS))})")
        if not item.get("names") or "logged" not in item:
            raise WorldError(f"{w}: names and logged are required")
        logged = parse_time(item["logged"], f"{w}.logged")
        issuer = (str(item.get("issuer", LETS_ENCRYPT[0])), int(item.get("issuer_ca_id", LETS_ENCRYPT[1])))
        out.append(make_cert(tuple(str(n) for n in item["names"]), logged, issuer,
                             parse_time(item["not_before"], f"{w}.not_before") if "not_before" in item else None,
                             parse_time(item["not_after"], f"{w}.not_after") if "not_after" in item else None))
    return out


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)
