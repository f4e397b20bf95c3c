"""Domain-name normalisation on the Public Suffix List snapshot bundled with tldextract.

Nothing is fetched: the extractor is built with no suffix-list URLs and no cache directory, so it
reads only the snapshot inside the installed tldextract package.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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


def _decode_label(label: str) -> str:
    """A suffix label as the suffix list holds it (tldextract's own matching form: Unicode for ``xn--``)."""
    if label.startswith("xn--"):
        try:
            return str(idna.decode(label))
        except (UnicodeError, IndexError, idna.IDNAError):
            pass
    return label


@dataclass(frozen=True)
class _Below:
    labels: frozenset[str]  # the rule labels directly below a suffix, as the suffix list holds them
    ascii_only: bool  # none of them is a Unicode label


@functools.lru_cache(maxsize=4096)
def _below(suffix: str) -> _Below | None:
    """The labels the suffix list has directly below ``suffix`` (private rules included), or None when
    ``suffix`` is not itself a rule reached label by label, or a wildcard rule sits below it.

    For such a suffix the extractor splits *any* ``label.suffix`` as (label, suffix) unless ``label``
    (Punycode-decoded) is one of these labels: its walk reaches the suffix's node, then finds no child for
    ``label`` and no wildcard, and stops (tldextract's ``suffix_index``). That is what ``_fast_split``
    relies on.
    """
    if not suffix or len(suffix) > 253:
        return None
    node = extractor()._get_tld_extractor().tlds_incl_private_trie
    for label in reversed(suffix.split(".")):
        if not _LABEL.fullmatch(label):  # registrable_domain rejects it ("!www.ck", "*.ck" are rule syntax)
            return None
        child = node.matches.get(_decode_label(label))
        if child is None:
            return None
        node = child
    if not node.end or "*" in node.matches:
        return None
    return _Below(frozenset(node.matches), all(label.isascii() for label in node.matches))


def _fast_split(host: str) -> Split | None:
    """``host`` split without walking the suffix list, when that split is certain; None otherwise.

    Certain when ``host`` is lower-case ASCII ``label.suffix`` with a valid label, ``suffix`` a plain rule
    with no wildcard below it, and ``label`` not a rule below it. An ``xn--`` label is matched by the
    extractor after Punycode decoding, which yields either the label unchanged (not decodable) or a
    string with a character above U+007F (every code point Punycode inserts is >= 128), so it cannot
    match an ASCII rule label: only suffixes with Unicode labels below them send it the slow way.
    Lookalike streams are ~all of this shape: hundreds of thousands of names per sweep, each otherwise a
    suffix-list walk with a Punycode decode (tests/detect/test_names.py checks the two agree)."""
    label, dot, suffix = host.partition(".")
    if not dot or not host.isascii() or not _LABEL.fullmatch(label):
        return None
    below = _below(suffix)
    if below is None or label in below.labels or (label.startswith("xn--") and not below.ascii_only):
        return None
    return Split("", label, suffix)


def split(name: str) -> Split:
    """Split an already-normalised host into subdomain, registrable label and public suffix."""
    fast = _fast_split(name)
    if fast is not None:
        return fast
    parts = extractor()(name)
    return Split(parts.subdomain, parts.domain, parts.suffix)


def registrable_domain(text: str) -> str:
    """The normalised registrable domain for ``text`` (URL, host or domain), or InvalidDomain.

    Lower case, punycode, no scheme/path/port, and ``www.`` (any subdomain) dropped:
    ``https://WWW.Spiegel.ltd:443/x`` → ``spiegel.ltd``.
    """
    if text.islower():  # the common case, a clean lower-case name: no URL parsing, no suffix-list walk
        fast = _fast_split(text)
        if fast is not None:
            return text
    return _registrable_slow(text)


def _registrable_slow(text: str) -> str:
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


def elsewhere(name: str, final_url: str) -> str | None:
    """The registrable domain a fetch of ``name``'s site ended on when it is another one than ``name``'s (a
    redirect followed to another site: the page is that site's), else None (no final URL, the same
    registrable domain, or a final host that has none)."""
    if not final_url:
        return None
    try:
        target = host_of(urlsplit(final_url).hostname or "")
    except ValueError:  # a malformed URL (bad port, bracket): no host to name
        return None
    return target if target and target != (host_of(name) or name) else None
