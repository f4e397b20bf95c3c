"""What a candidate's DNS answer says: a fingerprint to tell "unchanged since we decided" from "changed",
and the wildcard-DNS test (a TLD whose every name resolves, to a registry's parking page).

Pure: DNS results in, values out. The probes themselves are the scheduler's job (crawler.dns.Prober).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from detect.model import DnsResult

FINGERPRINT_TYPES: tuple[str, ...] = ("A", "AAAA", "CNAME", "NS")
"""The record types a decision's fingerprint covers (the hunt resolves candidates with these)."""

WILDCARD_TYPES: tuple[str, ...] = ("A", "CNAME")
"""What a wildcard answer is compared on: a name is real when its A/CNAME set differs."""

PROBES_PER_SUFFIX = 2
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def fingerprint(result: DnsResult) -> str:
    """A short stable digest of the answer's A, AAAA, CNAME and NS records (each set sorted, case folded).

    Two answers with the same records in another order have the same fingerprint."""
    parts = []
    for rtype in FINGERPRINT_TYPES:
        values = sorted({v.lower().rstrip(".") for v in result.get(rtype)})
        parts.append(f"{rtype}={','.join(values)}")
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:32]


def nonsense_labels(suffix: str, salt: str, count: int = PROBES_PER_SUFFIX) -> tuple[str, ...]:
    """``count`` names under ``suffix`` that nobody registered (``qz7x0k3v9w.ws``): 10 characters derived
    from a hash of the suffix, the salt (the hunt's time) and the index, so a test can repeat a hunt."""
    out = []
    for i in range(count):
        digest = hashlib.sha256(f"{salt}/{suffix}/{i}".encode()).digest()
        label = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])
        out.append(f"q{label[1:]}.{suffix}")  # a letter first: never an all-digit label
    return tuple(out)


@dataclass(frozen=True)
class Wildcard:
    """A suffix's wildcard answer: the A/CNAME values its nonsense names resolved to (empty: no wildcard)."""

    suffix: str
    values: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        return bool(self.values)

    def hides(self, result: DnsResult) -> bool:
        """True when ``result`` is just the wildcard answering (its A/CNAME values all wildcard values)."""
        if not self.active:
            return False
        values = _wildcard_values(result)
        return not values or values <= self.values


def wildcard_of(suffix: str, probes: Iterable[DnsResult]) -> Wildcard:
    """The wildcard of ``suffix`` from the answers to its nonsense names: any that resolves makes it one."""
    values: set[str] = set()
    for result in probes:
        if result.resolves:
            values |= _wildcard_values(result)
    return Wildcard(suffix, frozenset(values))


def _wildcard_values(result: DnsResult) -> frozenset[str]:
    return frozenset(v.lower().rstrip(".") for rtype in WILDCARD_TYPES for v in result.get(rtype))
