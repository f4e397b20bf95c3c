"""The prober's light wire parser, checked against dnspython's full parser. No network."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from crawler.dnswire import (
    Question,
    WireError,
    judge,
    name_text,
    normalise,
    parse_reply,
    qname_wire,
    rdtype_of,
)
from detect.model import Rcode


def _reply(qname: str, rtype: str, *rrsets: tuple[str, str, list[str]], rcode: int = 0,
           flags: int = 0) -> tuple[bytes, Question]:
    query = dns.message.make_query(qname, rtype)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    response.flags |= flags
    for owner, kind, values in rrsets:
        response.answer.append(dns.rrset.from_text_list(owner, 300, "IN", kind, values))
    return response.to_wire(), Question.make(qname_wire(qname), rdtype_of(rtype))


def test_qname_wire_is_lower_case_absolute_and_checks_lengths() -> None:
    assert qname_wire("WWW.Example.COM.") == b"\x03www\x07example\x03com\x00"
    assert name_text(qname_wire("a.b")) == "a.b"
    with pytest.raises(WireError):
        qname_wire("a..b")
    with pytest.raises(WireError):
        qname_wire("x" * 64 + ".com")
    with pytest.raises(WireError):
        qname_wire(".".join(["abcdefghi"] * 30))
    with pytest.raises(WireError):
        qname_wire("")


def test_internationalised_names_are_asked_in_punycode() -> None:
    assert qname_wire("bücher.example") == b"\x0dxn--bcher-kva\x07example\x00"


def test_unknown_record_type_is_an_error() -> None:
    with pytest.raises(WireError):
        rdtype_of("NOPE")
    assert rdtype_of("mx") == 15


def test_records_are_in_presentation_form_matching_dnspython() -> None:
    cases = [
        ("A", ["192.0.2.1", "192.0.2.2"]),
        ("AAAA", ["2001:db8::1", "::ffff:192.0.2.1"]),
        ("NS", ["NS1.Example.NET.", "ns2.example.net."]),
        ("MX", ["10 MX.example.net.", "20 ."]),
        ("SOA", ["ns1.example.net. hostmaster.example.test. 2024090501 7200 3600 1209600 300"]),
        ("CAA", ['0 issue "letsencrypt.org"']),
    ]
    for rtype, values in cases:
        wire, question = _reply("example.test", rtype, ("example.test.", rtype, values))
        reply = parse_reply(wire, question)
        assert reply is not None and reply.rcode == 0
        expected = [rd.to_text().lower().replace(". ", " ").rstrip(".") or "."
                    for rd in dns.message.from_wire(wire).answer[0]]
        if rtype == "MX":
            expected = ["10 mx.example.net", "20 ."]
        if rtype == "CAA":
            expected = ['0 issue "letsencrypt.org"']
        assert sorted(reply.records) == sorted(expected), rtype


def test_txt_strings_are_joined_and_unquoted() -> None:
    wire, question = _reply("example.test", "TXT", ("example.test.", "TXT", ['"v=spf1" " -all"', '"x\\"y"']))
    reply = parse_reply(wire, question)
    assert reply is not None and set(reply.records) == {"v=spf1 -all", 'x"y'}


def test_cname_chain_is_followed_and_same_name_cname_reported() -> None:
    wire, question = _reply("www.example.test", "A", ("www.example.test.", "CNAME", ["edge.cdn.test."]),
                            ("edge.cdn.test.", "A", ["192.0.2.9"]), ("other.test.", "A", ["192.0.2.66"]))
    reply = parse_reply(wire, question)
    assert reply is not None
    assert reply.records == ("192.0.2.9",)
    assert reply.cname == "edge.cdn.test"


def test_rcodes_and_truncation_are_reported() -> None:
    for rcode in (dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED):
        wire, question = _reply("x.test", "A", rcode=rcode)
        reply = parse_reply(wire, question)
        assert reply is not None and reply.rcode == rcode
    wire, question = _reply("x.test", "A", flags=dns.flags.TC)
    reply = parse_reply(wire, question)
    assert reply is not None and reply.truncated


def test_answers_to_another_question_are_not_answers() -> None:
    wire, _ = _reply("x.test", "A", ("x.test.", "A", ["192.0.2.1"]))
    assert parse_reply(wire, Question.make(qname_wire("y.test"), 1)) is None
    assert parse_reply(wire, Question.make(qname_wire("x.test"), 28)) is None
    query = dns.message.make_query("x.test", "A").to_wire()
    assert parse_reply(query, Question.make(qname_wire("x.test"), 1)) is None  # not a response
    assert parse_reply(b"\x00\x01junk", Question.make(qname_wire("x.test"), 1)) is None


def test_question_case_is_ignored() -> None:
    wire, _ = _reply("X.TeSt", "A", ("x.test.", "A", ["192.0.2.1"]))
    reply = parse_reply(wire, Question.make(qname_wire("x.test"), 1))
    assert reply is not None and reply.records == ("192.0.2.1",)


def test_malformed_answers_raise_wire_error() -> None:
    wire, question = _reply("x.test", "A", ("x.test.", "A", ["192.0.2.1"]))
    with pytest.raises(WireError):
        parse_reply(wire[:-2], question)  # record data cut short
    looped = bytearray(wire)
    start = len(wire) - 16  # the owner name of the answer record is a pointer: make it point at itself
    looped[start:start + 2] = bytes([0xC0, start & 0xFF])
    with pytest.raises(WireError):
        parse_reply(bytes(looped), question)


def test_error_answers_may_omit_the_question() -> None:
    question = Question.make(qname_wire("x.test"), 1)
    refused = b"\x12\x34\x81\x05" + b"\x00" * 8
    reply = parse_reply(refused, question)
    assert reply is not None and reply.rcode == dns.rcode.REFUSED
    assert parse_reply(b"\x12\x34\x81\x00" + b"\x00" * 8, question) is None


@pytest.mark.parametrize("name", ["example.com", "a.b-c_d.xn--p1ai", "Example.COM.", "x" * 63 + ".com", "-a.com",
                                  "_dmarc.example.com", "a" * 61 + "." + "b" * 61 + "." + "c" * 61 + "." + "d" * 63,
                                  "café.fr", "ex\\046ample.com", " spaced.com "])
def test_normalise_takes_its_quick_path_only_where_the_general_one_agrees(name: str) -> None:
    wire = qname_wire(name)
    text = name.strip().rstrip(".").lower()
    if not text.isascii() or "\\" in text:
        text = name_text(wire)
    assert normalise(name) == (text, wire)


@pytest.mark.parametrize("name", ["a..b", "x" * 64 + ".com", ".", "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63])
def test_normalise_refuses_what_cannot_be_asked(name: str) -> None:
    with pytest.raises(WireError):
        normalise(name)


@pytest.mark.parametrize(("rcode", "may_retry", "expected"), [
    (0, True, (Rcode.NOERROR, "")),
    (3, True, (Rcode.NXDOMAIN, "")),
    (2, True, None),                      # SERVFAIL: another server may do better
    (5, True, None),                      # REFUSED: likewise
    (2, False, (Rcode.SERVFAIL, "SERVFAIL from 192.0.2.53:53")),
    (5, False, (Rcode.REFUSED, "REFUSED from 192.0.2.53:53")),
    (1, True, (Rcode.ERROR, "rcode 1")),  # FORMERR and the rest: never retried
    (15, False, (Rcode.ERROR, "rcode 15")),
])
def test_an_answers_rcode_is_judged_alike_by_both_probers(rcode: int, may_retry: bool,
                                                           expected: tuple[Rcode, str] | None) -> None:
    assert judge(rcode, "192.0.2.53:53", may_retry=may_retry) == expected
