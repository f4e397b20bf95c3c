"""Domain-name normalisation on the Public Suffix List snapshot bundled with tldextract.

Nothing is fetched: the extractor is built with no suffix-list URLs and no cache directory, so it
reads only the snapshot inside the installed tldextract package.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import idna

if TYPE_CHECKING:
    import tldextract

from detect.errors import HydrawatchError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidDomain(ValueError, HydrawatchError):
    """The text is not a registrable domain; the message says why in one line."""


@dataclass(frozen=True)
class Split:
    subdomain: str
    label: str  # the registrable label: "washingtonpost" in "washingtonpost.pm"
    suffix: str  # the public suffix: "pm", "co.uk"

    @property
    def registrable(self) -> str:
        return f"{self.label}.{self.suffix}"


@functools.cache
def extractor() -> tldextract.TLDExtract:
    """The bundled-snapshot extractor (built once, on first use: it parses ~10k suffix rules).

    Private-section suffixes count (``bild.eu.com`` is its own registrable domain, not ``eu.com``):
    operators rent names under such suffixes, and collapsing them would merge unrelated sites.
    """
    import tldextract  # here, not at the top: it loads requests, which a command given plain names never needs

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


@functools.cache
def icann_tlds() -> tuple[str, ...]:
    """Every ICANN top-level suffix of one label in the bundled snapshot, sorted (about 1,400)."""
    icann = extractor()._get_tld_extractor().tlds_excl_private
    return tuple(sorted(t for t in icann if "." not in t and not t.startswith("!") and "*" not in t))


def _to_ascii(host: str) -> str:
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidDomain(f"not a valid internationalised name: {exc}") from None


def strip_to_host(text: str) -> str:
    """Reduce a URL or host-ish string to a lower-case ASCII host name (scheme, path, port, dots gone)."""
    host = text.strip().lower()
    if not host:
        raise InvalidDomain("empty name")
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host)
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    if host.startswith("["):
        raise InvalidDomain("an IP address is not a domain")
    host = host.split(":", 1)[0].strip(".").replace("[.]", ".")
    if not host:
        raise InvalidDomain("empty name")
    if any(ch.isspace() for ch in host):
        raise InvalidDomain("contains whitespace")
    if not host.isascii():
        host = _to_ascii(host)
    return host


def split(name: str) -> Split:
    """Split an already-normalised host into subdomain, registrable label and public suffix."""
    parts = extractor()(name)
    return Split(parts.subdomain, parts.domain, parts.suffix)


def registrable_domain(text: str) -> str:
    """The normalised registrable domain for ``text`` (URL, host or domain), or InvalidDomain.

    Lower case, punycode, no scheme/path/port, and ``www.`` (any subdomain) dropped:
    ``https://WWW.Spiegel.ltd:443/x`` → ``spiegel.ltd``.
    """
    host = strip_to_host(text)
    if re.fullmatch(r"[0-9.]+", host):
        raise InvalidDomain("an IP address is not a domain")
    labels = host.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise InvalidDomain(f"bad label {label!r}")
    parts = split(host)
    if not parts.suffix:
        raise InvalidDomain("no public suffix (not under any ICANN top-level domain)")
    if not parts.label:
        raise InvalidDomain(f"{host!r} is a public suffix, not a registrable domain")
    return parts.registrable


@functools.lru_cache(maxsize=8192)
def host_of(text: str) -> str | None:
    """Registrable domain of a URL or host, or None when it has none (used on hostile outlinks).

    Cached: a page's links name a handful of hosts hundreds of times, and each look-up walks the
    suffix list (bench/crawl.py). Pure (the bundled snapshot never changes in a process)."""
    try:
        return registrable_domain(text)
    except InvalidDomain:
        return None
