"""DNS answer fingerprints (unchanged since the decision?) and the wildcard-DNS test."""

from __future__ import annotations

from detect.answers import Wildcard, fingerprint, nonsense_labels, wildcard_of
from detect.model import DnsResult, Rcode


def answer(name: str, **records: tuple[str, ...]) -> DnsResult:
    return DnsResult(name, Rcode.NOERROR, dict(records))


def test_the_fingerprint_ignores_order_and_case_but_not_content() -> None:
    a = answer("x.net", A=("1.2.3.4", "5.6.7.8"), NS=("NS1.host.net.", "ns2.host.net"))
    b = answer("x.net", A=("5.6.7.8", "1.2.3.4"), NS=("ns2.host.net", "ns1.host.net"))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(answer("x.net", A=("1.2.3.4", "5.6.7.9"), NS=b.get("NS")))
    assert fingerprint(a) != fingerprint(answer("x.net", A=b.get("A"), NS=("ns1.other.net",)))
    assert fingerprint(a) != fingerprint(answer("x.net", A=b.get("A"), NS=b.get("NS"), CNAME=("y.net",)))
    assert fingerprint(a) != fingerprint(answer("x.net", A=b.get("A"), NS=b.get("NS"), AAAA=("2001:db8::1",)))


def test_nonsense_labels_are_distinct_reproducible_and_under_the_suffix() -> None:
    first = nonsense_labels("ws", "2025-03-13T12:00:00+00:00")
    assert len(set(first)) == 2 and all(n.endswith(".ws") and len(n.split(".")[0]) == 10 for n in first)
    assert nonsense_labels("ws", "2025-03-13T12:00:00+00:00") == first
    assert nonsense_labels("ws", "another hunt") != first
    assert nonsense_labels("co.uk", "s")[0].endswith(".co.uk")


def test_a_suffix_whose_nonsense_names_resolve_is_a_wildcard() -> None:
    nx = DnsResult("qz.ws", Rcode.NXDOMAIN)
    assert not wildcard_of("ws", [nx, nx]).active
    park = wildcard_of("ws", [answer("qa.ws", A=("203.0.113.7",)), nx])
    assert park.active and park.values == {"203.0.113.7"}


def test_a_wildcard_hides_names_that_answer_as_it_does_and_only_those() -> None:
    park = Wildcard("ws", frozenset({"203.0.113.7", "park.registry.ws"}))
    assert park.hides(answer("typo.ws", A=("203.0.113.7",), NS=("ns.registry.ws",)))
    assert park.hides(answer("typo.ws", CNAME=("park.registry.ws",)))
    assert not park.hides(answer("real.ws", A=("185.44.12.31",)))
    assert not park.hides(answer("half.ws", A=("203.0.113.7", "185.44.12.31")))
    assert not Wildcard("com").hides(answer("x.com", A=("203.0.113.7",)))
