"""The sandbox DNS server answers like an authoritative server, over UDP and TCP, per phase."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from sandbox.net import Sandbox
from tests.sandbox.helpers import query, values

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize("tcp", [False, True])
def test_every_domain_of_each_phase_answers_its_world_records(sandbox: Sandbox, tcp: bool) -> None:
    for phase in sandbox.phases:
        sandbox.set_phase(phase)
        for name, state in sandbox.view.domains.items():
            r = query(sandbox, name, "A", tcp=tcp)
            if not state.resolves:
                assert r.rcode() == dns.rcode.NXDOMAIN, (phase, name)
                continue
            assert r.rcode() == dns.rcode.NOERROR, (phase, name)
            assert r.flags & dns.flags.AA
            assert values(r, "A") == sorted(state.a), (phase, name)


def test_own_ns_answer_is_authoritative_and_changes_at_seizure(sandbox: Sandbox) -> None:
    r = query(sandbox, "washingtonpost.pm", "NS")
    assert r.flags & dns.flags.AA and values(r, "NS") == ["amy.ns.cloudflare.com.", "bob.ns.cloudflare.com."]
    assert not r.authority
    sandbox.set_phase("seizure")
    r = query(sandbox, "washingtonpost.pm", "NS")
    assert values(r, "NS") == ["ns1.fbi.seized.gov.", "ns2.fbi.seized.gov."]


def test_unknown_name_is_nxdomain_with_soa(sandbox: Sandbox) -> None:
    r = query(sandbox, "nothing-here.example", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.authority and r.authority[0].rdtype == dns.rdatatype.SOA


def test_known_name_without_the_type_is_nodata(sandbox: Sandbox) -> None:
    r = query(sandbox, "washingtonpost.pm", "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_www_follows_apex_and_other_types_resolve(sandbox: Sandbox) -> None:
    assert values(query(sandbox, "www.rrn.media", "A"), "A") == ["185.172.128.40"]
    assert values(query(sandbox, "rrn.media", "MX"), "MX") == ["10 mail.rrn.media."]
    assert '"v=spf1 mx -all"' in values(query(sandbox, "rrn.media", "TXT"), "TXT")
    assert values(query(sandbox, "rrn.media", "SOA"), "SOA")[0].startswith("ns1.dnsnode-eu.net.")
    assert query(sandbox, "deep.sub.rrn.media", "A").rcode() == dns.rcode.NXDOMAIN


def test_suspended_brand_goes_nxdomain_and_replacement_appears(sandbox: Sandbox) -> None:
    assert query(sandbox, "rrn.so", "A").rcode() == dns.rcode.NXDOMAIN
    sandbox.set_phase("seizure")
    assert query(sandbox, "artichoc.io", "A").rcode() == dns.rcode.NXDOMAIN
    assert values(query(sandbox, "rrn.so", "A"), "A") == ["185.172.128.57"]


def test_huge_answer_is_truncated_over_udp_and_complete_over_tcp(sandbox: Sandbox) -> None:
    sandbox.set_behaviour("rrn.media", "dns-huge-txt")
    udp = query(sandbox, "rrn.media", "TXT")
    assert udp.flags & dns.flags.TC and not udp.answer
    tcp = query(sandbox, "rrn.media", "TXT", tcp=True)
    assert len(values(tcp, "TXT")) > 100
    edns = query(sandbox, "rrn.media", "TXT", use_edns=0, payload=1232)
    assert edns.flags & dns.flags.TC


def test_udp_then_tcp_fallback_with_dnspython_helper(sandbox: Sandbox) -> None:
    sandbox.set_behaviour("rrn.media", "dns-truncated")
    q = dns.message.make_query("rrn.media", "A")
    r, used_tcp = dns.query.udp_with_fallback(q, "127.0.0.1", port=sandbox.ports["dns"], timeout=3)
    assert used_tcp and values(r, "A") == ["185.172.128.40"]


@pytest.mark.parametrize(("behaviour", "rcode"), [("dns-servfail", dns.rcode.SERVFAIL),
                                                   ("dns-refused", dns.rcode.REFUSED)])
def test_error_behaviours(sandbox: Sandbox, behaviour: str, rcode: int) -> None:
    sandbox.set_behaviour("lavirgule.news", behaviour)
    assert query(sandbox, "lavirgule.news", "A").rcode() == rcode


def test_timeout_and_garbage_behaviours(sandbox: Sandbox) -> None:
    sandbox.set_behaviour("lavirgule.news", "dns-timeout")
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query("lavirgule.news", "A"), "127.0.0.1", port=sandbox.ports["dns"],
                      timeout=0.5)
    sandbox.set_behaviour("lavirgule.news", "dns-garbage")
    with pytest.raises(dns.exception.DNSException):
        query(sandbox, "lavirgule.news", "A")
    sandbox.set_behaviour("lavirgule.news", None)
    assert values(query(sandbox, "lavirgule.news", "A"), "A") == ["91.215.85.30"]


def test_cname_loop_behaviour(sandbox: Sandbox) -> None:
    sandbox.set_behaviour("lavirgule.news", "dns-cname-loop")
    first = query(sandbox, "lavirgule.news", "A")
    assert values(first, "CNAME") == ["loop.lavirgule.news."]
    assert values(query(sandbox, "loop.lavirgule.news", "A"), "CNAME") == ["lavirgule.news."]
