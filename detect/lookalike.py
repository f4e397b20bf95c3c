"""Lookalike names for a domain: dnstwist's fuzzers used as a library, plus a TLD swap over every ICANN TLD.

dnstwist's own TLD list has 100 entries and lacks ``.pm`` (9 of the 17 real September 2024 Doppelganger
replacements are never generated from it), so ``tld-swap`` is ours: the registrable label kept, the public
suffix swapped for every ICANN TLD of the bundled Public Suffix List (or the ``[discovery] tlds`` list).

The other fuzzers are dnstwist's, called one at a time so memory holds one fuzzer's output at most. We split
the domain on the Public Suffix List ourselves and hand dnstwist the label and suffix (its own splitter
needs the optional ``tld`` package and otherwise cuts ``bild.eu.com`` wrongly).

dnstwist's typo fuzzers keep the seed's suffix; an operator who lost ``quill-courier.info`` may register
``quil-courier.net`` on a TLD the network already uses. ``typo_tlds`` crosses every typo label with those
suffixes (``network_suffixes()`` of the network's domains): a handful of TLDs, not all 1,444.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import dnstwist  # type: ignore[import-untyped]
import idna
from idna import idnadata
from idna.intranges import intranges_contain

from detect import punycode
from detect.errors import HydrawatchError
from detect.model import Candidate
from detect.names import InvalidDomain, Split, icann_tlds, registrable_domain, split

log = logging.getLogger(__name__)

SOURCE = "lookalike"

# dnstwist fuzzer names (dnstwist 20250130, Fuzzer._<name with - as _>): the library decides what they do.
DNSTWIST_FUZZERS: tuple[str, ...] = (
    "addition", "bitsquatting", "cyrillic", "homoglyph", "hyphenation", "insertion", "omission", "plural",
    "repetition", "replacement", "subdomain", "transposition", "vowel-swap", "various", "dictionary",
)


NOT_CROSSED: frozenset[str] = frozenset({"tld-swap", "homoglyph", "cyrillic", "bitsquatting"})
"""Fuzzers whose names stay on their own suffix when ``typo_tlds`` is given. ``tld-swap`` has its own TLD
list; the Unicode-lookalike fuzzers make thousands of names per label (12,000 for ``holylandherald``), so
crossing them with 14 network TLDs would be over 10⁶ names per network and sweep."""


class UnknownFuzzer(ValueError, HydrawatchError):
    """A fuzzer name that no generator is registered for."""


@dataclass(frozen=True)
class FuzzTarget:
    """What a generator works on: the seed split on the Public Suffix List, and the swap/dictionary lists."""

    split: Split
    tlds: tuple[str, ...]
    dictionary: tuple[str, ...] = ()


Generator = Callable[[FuzzTarget], Iterable[str]]


def _tld_swap(target: FuzzTarget) -> Iterator[str]:
    """The label on every other suffix: ``artichoc.io`` → ``artichoc.cc``; ``bild.eu.com`` → ``bild.pm``."""
    for tld in target.tlds:
        if tld != target.split.suffix:
            yield f"{target.split.label}.{tld}"


_LDH_LABEL = re.compile(r"(?!-)(?!..--)[a-z0-9-]{1,63}(?<!-)")
_PVALID = idnadata.codepoint_classes["PVALID"]


@functools.lru_cache(maxsize=4096)
def _plain(char: str) -> bool:
    """PVALID in IDNA 2008 (no context rule) and of a known direction that is not right-to-left, so the
    Bidi rule does not apply: idna's per-code-point checks let it through whatever its neighbours."""
    return intranges_contain(ord(char), _PVALID) and unicodedata.bidirectional(char) not in {"", "R", "AL", "AN"}


def _a_label(label: str) -> str | None:
    """``idna.alabel(label)`` for a Unicode label of plain code points; None when idna must decide.

    The checks idna makes of such a label, in its order: NFC, no hyphen first, last or in positions
    3-4, no combining mark first, then Punycode and 63 octets at most (``idna.core.check_label``,
    ``alabel``). A lookalike stream has tens of thousands of homoglyph labels per sweep."""
    if len(label) > 63 or not all(_plain(c) for c in label) or not unicodedata.is_normalized("NFC", label):
        return None
    if label[2:4] == "--" or label[0] == "-" or label[-1] == "-" or unicodedata.category(label[0])[0] == "M":
        return None
    encoded = "xn--" + punycode.encode(label)
    return encoded if len(encoded) <= 63 else None


def _idna_ascii(name: str) -> str:
    """``idna.encode(name).decode()`` as dnstwist calls it on each permutation, ``""`` where that raises.

    A label of lower-case letters, digits and hyphens (no ``--`` at positions 3-4, so no A-label to
    verify) is its own encoding, and a Unicode label of plain code points is checked and encoded here
    (``_a_label``); any other name goes through idna. idna's per-code-point table look-ups were most
    of a lookalike stream's cost (tests/detect/test_lookalike.py checks both give dnstwist's own output)."""
    if len(name) > 253 or "\u3002" in name or "\uff0e" in name or "\uff61" in name:
        return _idna_encode(name)
    out: list[str] = []
    for label in name.split("."):
        if _LDH_LABEL.fullmatch(label):
            out.append(label)
            continue
        encoded = _a_label(label) if label and not label.isascii() else None
        if encoded is None:
            return _idna_encode(name)
        out.append(encoded)
    joined = ".".join(out)
    return joined if len(joined) <= 253 else ""


def _idna_encode(name: str) -> str:
    try:
        return str(idna.encode(name).decode())
    except Exception:  # noqa: BLE001 - dnstwist drops any name idna refuses, whatever the error
        return ""


def _dnstwist(name: str) -> Generator:
    method = "_" + name.replace("-", "_")

    def generate(target: FuzzTarget) -> list[str]:
        parts = target.split
        try:
            fuzzer = dnstwist.Fuzzer(parts.registrable, dictionary=list(target.dictionary), tld_dictionary=[])
            fuzzer.domain = idna.decode(parts.label)  # dnstwist fuzzes the Unicode form of the label
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            log.info("dnstwist cannot fuzz %s: %s", parts.registrable, exc)
            return []
        # Our PSL split, not dnstwist's heuristic one: the label is fuzzed, the whole suffix kept.
        fuzzer.subdomain, fuzzer.tld = "", parts.suffix
        fuzz = getattr(fuzzer, method, None)
        if fuzz is None:  # "various" lives inside Fuzzer.generate, not in a method of its own
            fuzzer.generate(fuzzers=[name])
            return sorted(str(p["domain"]) for p in fuzzer.permutations() if p["fuzzer"] == name)
        # What Fuzzer.generate does for one fuzzer (join, IDNA-encode, keep valid names), minus its
        # Permutation objects and idna's tables for plain-ASCII names.
        names = {_idna_ascii(".".join(filter(None, ("", label, parts.suffix)))) for label in fuzz()}
        return sorted(n for n in names if n and dnstwist.VALID_FQDN_REGEX.match(n))

    generate.__name__ = f"dnstwist_{name.replace('-', '_')}"
    generate.__doc__ = f"dnstwist's {name!r} fuzzer on the registrable label."
    return generate


def _registry() -> Mapping[str, Generator]:
    table: dict[str, Generator] = {"tld-swap": _tld_swap}
    table.update({name: _dnstwist(name) for name in DNSTWIST_FUZZERS})
    return MappingProxyType(table)


GENERATORS: Mapping[str, Generator] = _registry()
"""Every lookalike generator by name (the ``[discovery] fuzzers`` vocabulary)."""


def check_fuzzers(names: Iterable[str]) -> tuple[str, ...]:
    """The names in order, de-duplicated; UnknownFuzzer names the first unknown one."""
    out: list[str] = []
    for name in names:
        if name not in GENERATORS:
            raise UnknownFuzzer(f"unknown fuzzer {name!r} (known: {', '.join(GENERATORS)})")
        if name not in out:
            out.append(name)
    return tuple(out)


def resolve_tlds(tlds: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` → every ICANN TLD of the bundled PSL; a list → its entries normalised (``.PM`` → ``pm``).

    List entries may be multi-label suffixes (``co.uk``).
    """
    if isinstance(tlds, str):
        if tlds != "all":
            raise ValueError(f'tlds: expected "all" or a list, got {tlds!r}')
        return icann_tlds()
    out: list[str] = []
    for tld in tlds:
        norm = tld.strip().strip(".").lower()
        if norm and not norm.isascii():
            norm = idna.encode(norm, uts46=True).decode("ascii")
        if norm and norm not in out:
            out.append(norm)
    return tuple(out)


def network_suffixes(domains: Iterable[str]) -> tuple[str, ...]:
    """The public suffixes the given domains use, sorted and de-duplicated (``co.uk`` stays whole);
    names that are not registrable domains are skipped. The ``typo_tlds`` of a network."""
    out: set[str] = set()
    for domain in domains:
        try:
            out.add(split(registrable_domain(domain)).suffix)
        except InvalidDomain:
            continue
    return tuple(sorted(out))


def lookalikes(
    domain: str,
    fuzzers: Iterable[str] = tuple(GENERATORS),
    tlds: str | Sequence[str] = "all",
    dictionary: Sequence[str] = (),
    typo_tlds: Sequence[str] = (),
) -> Iterator[Candidate]:
    """Stream the lookalike candidates of ``domain``, fuzzer by fuzzer in the order given.

    ``tld-swap`` puts the label on every suffix of ``tlds``. Every other fuzzer's names are on the seed's
    suffix and, crossed, on each suffix of ``typo_tlds`` (``quil-courier.info`` also as ``quil-courier.net``),
    except the NOT_CROSSED fuzzers (Unicode lookalikes, and bit flips: a memory error does not pick the
    operator's other TLDs).
    Each is a normalised registrable domain (names registrable_domain rejects are dropped), de-duplicated
    (first fuzzer wins), never the seed itself. Raises InvalidDomain for a bad seed and UnknownFuzzer for an
    unknown fuzzer name, before anything is yielded.
    """
    seed = registrable_domain(domain)
    names = check_fuzzers(fuzzers)
    target = FuzzTarget(split(seed), resolve_tlds(tlds), tuple(dictionary))
    return _stream(seed, names, target, resolve_tlds(list(typo_tlds)))


def typo_variants(name: str, typo_tlds: Sequence[str]) -> Iterator[str]:
    """A typo name as generated, then its label on each of ``typo_tlds`` (its own suffix skipped)."""
    yield name
    parts = split(name)
    for tld in typo_tlds:
        if tld != parts.suffix:
            yield f"{parts.label}.{tld}"


def _stream(seed: str, fuzzers: tuple[str, ...], target: FuzzTarget,
            typo_tlds: tuple[str, ...]) -> Iterator[Candidate]:
    seen = {seed}
    for name in fuzzers:
        for raw in GENERATORS[name](target):
            try:
                found = registrable_domain(raw)
            except InvalidDomain:
                continue
            variants = typo_variants(found, typo_tlds) if typo_tlds and name not in NOT_CROSSED else (found,)
            for variant in variants:
                if variant not in seen:
                    seen.add(variant)
                    yield Candidate(domain=variant, source=SOURCE, via=name, seed=seed)

