"""Takedown signatures as one frozen value: seizure, weak-seizure and sinkhole name servers, banner
phrases with strength, block notices, parking name servers, for-sale page phrases and the
suspension notices of registrars and hosts.

``parse_signatures`` is pure (TOML texts in, Signatures out); the shell reads the bundled files
(``hydrawatch.bundled.load_signatures``) and passes their texts in.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from detect.errors import HydrawatchError

Strength = Literal["strong", "weak"]

_NS_KINDS = ("seizure", "seizure_weak", "sinkhole")
_PHRASE_KINDS = ("banner", "keyword", "block_notice")
_PARKING_NS_MATCH = ("exact", "suffix")


class SignatureError(ValueError, HydrawatchError):
    """A signature file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class NameServer:
    host: str  # lower case, no trailing dot
    kind: str  # seizure | seizure_weak | sinkhole
    agency: str
    source: str


@dataclass(frozen=True)
class Phrase:
    text: str  # lower case (matching is case-insensitive)
    kind: str  # banner | keyword | block_notice
    strength: Strength
    agency: str
    source: str


@dataclass(frozen=True)
class ParkingNameServer:
    pattern: str  # a host ("exact") or a domain whose sub-hosts all count ("suffix")
    match: str
    provider: str
    source: str

    def matches(self, host: str) -> bool:
        return host == self.pattern or (self.match == "suffix" and host.endswith("." + self.pattern))


@dataclass(frozen=True)
class ProviderPhrase:
    """A stock phrase of a provider's page shown instead of a site (parking, for sale, suspended)."""

    text: str  # lower case
    provider: str
    source: str


ParkingPhrase = ProviderPhrase


@dataclass(frozen=True)
class Signatures:
    nameservers: tuple[NameServer, ...] = ()
    phrases: tuple[Phrase, ...] = ()
    parking_nameservers: tuple[ParkingNameServer, ...] = ()
    parking_phrases: tuple[ProviderPhrase, ...] = ()
    suspension_phrases: tuple[ProviderPhrase, ...] = ()

    def nameserver(self, host: str) -> NameServer | None:
        """The seizure/sinkhole entry for an NS host (exact, case-insensitive), or None."""
        host = host.strip().rstrip(".").lower()
        return next((ns for ns in self.nameservers if ns.host == host), None)

    def parking(self, host: str) -> ParkingNameServer | None:
        host = host.strip().rstrip(".").lower()
        return next((p for p in self.parking_nameservers if p.matches(host)), None)

    def phrases_of(self, kind: str, strength: Strength | None = None) -> tuple[Phrase, ...]:
        return tuple(p for p in self.phrases if p.kind == kind and (strength is None or p.strength == strength))


def _str(entry: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise SignatureError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _choice(entry: dict[str, Any], key: str, allowed: Iterable[str], where: str, default: str | None = None) -> str:
    value = _str(entry, key, where, default)
    if value not in allowed:
        raise SignatureError(f"{where}: '{key}' = {value!r}, expected one of {', '.join(allowed)}")
    return value


def _table(doc: dict[str, Any], key: str, name: str) -> list[dict[str, Any]]:
    rows = doc.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SignatureError(f"{name}: [[{key}]] must be an array of tables")
    return rows


def parse_signatures(toml_texts: Iterable[tuple[str, str]] | Iterable[str]) -> Signatures:
    """Merge signature TOML documents (texts, or (name, text) pairs for better error messages)."""
    nameservers: list[NameServer] = []
    phrases: list[Phrase] = []
    parking_ns: list[ParkingNameServer] = []
    provider_phrases: dict[str, list[ProviderPhrase]] = {"parking_phrase": [], "suspension_phrase": []}
    for index, item in enumerate(toml_texts):
        name, text = item if isinstance(item, tuple) else (f"signature document {index + 1}", item)
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SignatureError(f"{name}: not valid TOML: {exc}") from None
        for i, row in enumerate(_table(doc, "nameserver", name)):
            where = f"{name} [[nameserver]] #{i + 1}"
            if row.get("match", "exact") != "exact":
                raise SignatureError(f"{where}: only match = \"exact\" is supported")
            nameservers.append(NameServer(
                _str(row, "pattern", where).lower().rstrip("."), _choice(row, "kind", _NS_KINDS, where),
                _str(row, "agency", where, ""), _str(row, "source", where)))
        for i, row in enumerate(_table(doc, "banner_phrase", name)):
            where = f"{name} [[banner_phrase]] #{i + 1}"
            strength: Strength = "strong" if _choice(row, "strength", ("strong", "weak"), where) == "strong" else "weak"
            phrases.append(Phrase(
                _str(row, "text", where).lower(), _choice(row, "kind", _PHRASE_KINDS, where), strength,
                _str(row, "agency", where, ""), _str(row, "source", where)))
        for i, row in enumerate(_table(doc, "parking_nameserver", name)):
            where = f"{name} [[parking_nameserver]] #{i + 1}"
            parking_ns.append(ParkingNameServer(
                _str(row, "pattern", where).lower().rstrip("."),
                _choice(row, "match", _PARKING_NS_MATCH, where, "exact"),
                _str(row, "provider", where), _str(row, "source", where)))
        for key, found in provider_phrases.items():
            for i, row in enumerate(_table(doc, key, name)):
                where = f"{name} [[{key}]] #{i + 1}"
                found.append(ProviderPhrase(
                    _str(row, "text", where).lower(), _str(row, "provider", where, ""), _str(row, "source", where)))
    return Signatures(tuple(nameservers), tuple(phrases), tuple(parking_ns),
                      tuple(provider_phrases["parking_phrase"]), tuple(provider_phrases["suspension_phrase"]))

