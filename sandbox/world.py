"""Load and validate a world (TOML folder or inline mapping) into one PhaseView per phase.

A world declares its domains once under [domains]; each phase under [phases.<name>] may override
keys of any declared domain (phases inherit from the previous phase). See docs/sandbox.md.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sandbox.errors import WorldError
from sandbox.model import BEHAVIOURS, CertEntry, DomainState, PhaseView
from sandbox.nrd import generated_names
from sandbox.sites import build_registration, build_site, default_certificates, explicit_certificates
from sandbox.times import parse_time

DOMAIN_KEYS = frozenset({"appears", "removed", "resolves", "a", "aaaa", "ns", "mx", "txt", "cname", "www",
                         "rdap", "web", "ct", "behaviours", "nrd"})
PHASE_KEYS = frozenset({"clock", "domains", "nrd_generated", "nrd_extra"})
WORLD_KEYS = frozenset({"name", "campaign", "description", "seeds", "nrd_window_days", "wildcard_tlds",
                        "wildcard_ip"})
WILDCARD_IP = "203.0.113.250"
"""Where every undeclared name under a ``wildcard_tlds`` suffix points: a registry's parking page."""
TOP_KEYS = frozenset({"world", "phases", "domains", "certificates"})
NAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class World:
    name: str
    campaign: str
    description: str
    seeds: tuple[str, ...]
    phases: tuple[str, ...]
    views: Mapping[str, PhaseView]
    folder: Path | None


def packaged_world(name: str) -> Path:
    return Path(str(resources.files("sandbox.worlds").joinpath(name)))


def load_world(source: str | Path | Mapping[str, Any]) -> World:
    """A packaged world by name, a folder holding world.toml, a .toml file, or an inline mapping."""
    if isinstance(source, Mapping):
        return build_world(source, folder=None, label="(inline world)")
    path = Path(source)
    if not path.exists() and isinstance(source, str) and "/" not in source:
        path = packaged_world(source)
    if path.is_dir():
        path = path / "world.toml"
    if not path.is_file():
        raise WorldError(f"{source}: no such world (expected a folder with world.toml or a packaged world name)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorldError(f"{path}: not valid TOML: {exc}") from None
    return build_world(data, folder=path.parent, label=str(path))


def build_world(data: Mapping[str, Any], folder: Path | None, label: str) -> World:
    _known(data, TOP_KEYS, label)
    meta = dict(data.get("world", {}))
    _known(meta, WORLD_KEYS, f"{label} [world]")
    name = str(meta.get("name") or (folder.name if folder else "inline"))
    phases_raw = data.get("phases") or {}
    if not phases_raw:
        raise WorldError(f"{label}: no [phases.<name>] table (a world needs at least one phase)")
    phase_names = tuple(phases_raw)
    domains_raw: dict[str, Any] = dict(data.get("domains", {}))
    for domain, spec in domains_raw.items():
        _check_name(domain, f"{label} [domains]")
        if not isinstance(spec, dict):
            raise WorldError(f"{label} domain {domain!r}: expected a table")
        _known(spec, DOMAIN_KEYS, f"{label} domain {domain!r}")
        appears = spec.get("appears", phase_names[0])
        if appears not in phase_names:
            raise WorldError(f"{label} domain {domain!r}: appears = {appears!r} is not a phase "
                             f"(phases: {', '.join(phase_names)})")
    window = timedelta(days=float(meta.get("nrd_window_days", 2)))
    wildcard_tlds, wildcard = _wildcard(meta, folder, label)
    extra_certs = explicit_certificates(data.get("certificates", []), f"{label} [[certificates]]")
    views: dict[str, PhaseView] = {}
    current: dict[str, dict[str, Any]] = {}
    seen_certs: dict[int, CertEntry] = {c.id: c for c in extra_certs}
    previous_clock: datetime | None = None
    for phase in phase_names:
        where = f"{label} phase {phase!r}"
        praw = phases_raw[phase]
        _known(praw, PHASE_KEYS, where)
        clock = parse_time(praw.get("clock"), f"{where}.clock")
        if previous_clock and clock < previous_clock:
            raise WorldError(f"{where}.clock: {clock.isoformat()} is before the previous phase's clock")
        previous_clock = clock
        for domain, spec in domains_raw.items():
            if spec.get("appears", phase_names[0]) == phase:
                current[domain] = {k: v for k, v in spec.items() if k != "appears"}
        for domain, override in (praw.get("domains") or {}).items():
            if domain not in domains_raw:
                raise WorldError(f"{where}: unknown domain {domain!r} (declare it under [domains] first)")
            if domain not in current:
                raise WorldError(f"{where}: domain {domain!r} is changed before it appears "
                                 f"(appears = {domains_raw[domain].get('appears')!r})")
            _known(override, DOMAIN_KEYS - {"appears"}, f"{where} domain {domain!r}")
            current[domain] = deep_merge(current[domain], override)
        states: dict[str, DomainState] = {}
        for domain, spec in current.items():
            if spec.get("removed"):
                continue
            state = build_domain(domain, spec, f"{where} domain {domain!r}", folder, clock)
            states[domain] = state
            for cert in default_certificates(state, spec.get("ct", True), clock, f"{where} domain {domain!r}.ct"):
                seen_certs.setdefault(cert.id, cert)
        hosts: dict[str, str] = {}
        for domain, state in states.items():
            if state.resolves:
                hosts[domain] = domain
                if state.www:
                    hosts.setdefault(f"www.{domain}", domain)
        certs = tuple(sorted((c for c in seen_certs.values() if c.entry_timestamp <= clock), key=lambda c: c.id))
        nrd = _nrd(states, praw, clock, window, name, phase, where, {d.split(".")[0] for d in domains_raw})
        views[phase] = PhaseView(name=phase, clock=clock, domains=MappingProxyType(states),
                                 hosts=MappingProxyType(hosts), certificates=certs, nrd=nrd,
                                 wildcard_tlds=wildcard_tlds, wildcard=wildcard)
    seeds = _seeds(meta, folder, label)
    return World(name=name, campaign=str(meta.get("campaign", "")), description=str(meta.get("description", "")),
                 seeds=seeds, phases=phase_names, views=MappingProxyType(views), folder=folder)


def build_domain(domain: str, spec: Mapping[str, Any], where: str, folder: Path | None,
                 clock: datetime) -> DomainState:
    a = tuple(_ip(x, 4, f"{where}.a") for x in _list(spec, "a", where))
    aaaa = tuple(_ip(x, 6, f"{where}.aaaa") for x in _list(spec, "aaaa", where))
    ns = tuple(_host(x, f"{where}.ns") for x in _list(spec, "ns", where))
    mx: list[tuple[int, str]] = []
    for item in _list(spec, "mx", where):
        pref, _, host = str(item).partition(" ")
        if not pref.isdigit() or not host:
            raise WorldError(f"{where}.mx: expected \"<preference> <host>\", got {item!r}")
        mx.append((int(pref), _host(host, f"{where}.mx")))
    behaviours = frozenset(_list(spec, "behaviours", where))
    for b in behaviours:
        if b not in BEHAVIOURS:
            raise WorldError(f"{where}.behaviours: unknown behaviour {b!r} (known: {', '.join(sorted(BEHAVIOURS))})")
    cname = str(spec.get("cname", "") or "")
    if cname:
        _host(cname, f"{where}.cname")
    rdap_raw = spec.get("rdap", False)
    web_raw = spec.get("web", False)
    return DomainState(
        name=domain, resolves=bool(spec.get("resolves", True)), a=a, aaaa=aaaa, ns=ns, mx=tuple(mx),
        txt=tuple(str(t) for t in _list(spec, "txt", where)), cname=cname, www=bool(spec.get("www", True)),
        rdap=build_registration(rdap_raw, ns, f"{where}.rdap", clock) if rdap_raw is not False else None,
        site=build_site(web_raw, domain, f"{where}.web", folder) if web_raw is not False else None,
        behaviours=behaviours, nrd=bool(spec.get("nrd", True)))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key (pages replace whole); lists and values replace."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            if key in out and _is_page_spec(value):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _is_page_spec(value: Mapping[str, Any]) -> bool:
    return any(k in value for k in ("file", "html", "template", "redirect", "builtin"))


def _nrd(states: Mapping[str, DomainState], praw: Mapping[str, Any], clock: datetime, window: timedelta,
         world: str, phase: str, where: str, labels: set[str]) -> tuple[str, ...]:
    names = {d for d, s in states.items()
             if s.nrd and s.rdap and clock - window <= s.rdap.registered <= clock}
    for extra in praw.get("nrd_extra", []):
        names.add(_check_name(str(extra), f"{where}.nrd_extra"))
    count = praw.get("nrd_generated", 0)
    if not isinstance(count, int) or count < 0:
        raise WorldError(f"{where}.nrd_generated: expected a count >= 0, got {count!r}")
    names.update(generated_names(count, f"{world}/{phase}", labels))
    return tuple(sorted(names))


def _wildcard(meta: Mapping[str, Any], folder: Path | None, label: str) -> tuple[frozenset[str], DomainState | None]:
    """``[world] wildcard_tlds``: suffixes whose every undeclared name answers A ``wildcard_ip`` (default
    WILDCARD_IP) and serves a parked page, as registries with wildcard DNS do."""
    where = f"{label} [world].wildcard_tlds"
    raw = meta.get("wildcard_tlds", [])
    if not isinstance(raw, list):
        raise WorldError(f"{where}: expected a list of suffixes, got {raw!r}")
    tlds = frozenset(str(t).strip(".").lower() for t in raw)
    for tld in tlds:
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", tld):
            raise WorldError(f"{where}: bad suffix {tld!r}")
    if not tlds:
        return tlds, None
    ip = _ip(meta.get("wildcard_ip", WILDCARD_IP), 4, f"{label} [world].wildcard_ip")
    site = build_site({"catch_all": {"builtin": "parked"}}, "wildcard", f"{label} [world] wildcard", folder)
    return tlds, DomainState(name="wildcard", a=(ip,), site=site, www=True)


def _seeds(meta: Mapping[str, Any], folder: Path | None, label: str) -> tuple[str, ...]:
    if "seeds" in meta:
        return tuple(_check_name(str(s), f"{label} [world].seeds") for s in meta["seeds"])
    if folder and (folder / "seeds.txt").is_file():
        lines = (folder / "seeds.txt").read_text(encoding="utf-8").splitlines()
        return tuple(_check_name(ln.strip(), f"{folder / 'seeds.txt'}") for ln in lines
                     if ln.strip() and not ln.lstrip().startswith("#"))
    return ()


def _known(table: Any, known: frozenset[str], where: str) -> None:
    if not isinstance(table, Mapping):
        raise WorldError(f"{where}: expected a table, got {table!r}")
    for key in table:
        if key not in known:
            raise WorldError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")


def _list(spec: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = spec.get(key, [])
    if not isinstance(value, list):
        raise WorldError(f"{where}.{key}: expected a list, got {value!r}")
    return value


def _ip(value: Any, version: int, where: str) -> str:
    try:
        ip = ipaddress.ip_address(str(value))
    except ValueError:
        raise WorldError(f"{where}: bad IP address {value!r}") from None
    if ip.version != version:
        raise WorldError(f"{where}: {value!r} is not an IPv{version} address")
    return str(ip)


def _host(value: Any, where: str) -> str:
    return _check_name(str(value).rstrip(".").lower(), where)


def _check_name(value: str, where: str) -> str:
    if not NAME_RE.match(value):
        raise WorldError(f"{where}: bad domain name {value!r} (lower-case LDH labels expected)")
    return value
