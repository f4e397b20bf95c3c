"""Authoritative DNS answers for the world's current phase (pure: query bytes in, response bytes out)."""

from __future__ import annotations

import functools
import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from sandbox.model import DomainState, PhaseView
from sandbox.state import LiveState

TTL = 300
GARBAGE = b"\x8a\xff not dns \x00\x01"
SUPPORTED = {dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS, dns.rdatatype.MX, dns.rdatatype.TXT,
             dns.rdatatype.SOA, dns.rdatatype.CNAME}


def _encode_name(name: str) -> bytes:
    out = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.split(".") if label)
    return out + b"\x00"


@functools.lru_cache(maxsize=4096)
def _tld_soa_wire(tld: str) -> bytes:
    """The authority SOA of a TLD as uncompressed wire bytes (the NXDOMAIN fast path appends it)."""
    rdata = (_encode_name(f"a.nic.{tld}") + _encode_name(f"hostmaster.nic.{tld}")
             + struct.pack("!5I", 2024090601, 1800, 900, 604800, TTL))
    return _encode_name(tld) + struct.pack("!HHIH", dns.rdatatype.SOA, dns.rdataclass.IN, TTL, len(rdata)) + rdata


def _fast_nxdomain(wire: bytes, state: LiveState) -> bytes | None:
    """Answer a plain query for a name outside the world without dnspython (None: take the full path).

    Discovery sweeps ask for tens of thousands of names that do not exist; building each NXDOMAIN
    with dns.message costs ~0.3 ms, this costs a few µs, so the sandbox keeps up with the prober."""
    if len(wire) < 17:
        return None
    ident, flags, qdcount = struct.unpack_from("!HHH", wire)
    if qdcount != 1 or flags & 0xF800:  # a response, or an opcode other than QUERY
        return None
    pos, labels = 12, []
    while True:
        length = wire[pos] if pos < len(wire) else 0xFF
        if length == 0:
            pos += 1
            break
        if length > 63 or pos + 1 + length > len(wire):
            return None
        labels.append(wire[pos + 1:pos + 1 + length].decode("ascii", "replace").lower())
        pos += 1 + length
    if pos + 4 > len(wire) or not labels:
        return None
    qtype = struct.unpack_from("!H", wire, pos)[0]
    qname = ".".join(labels)
    if qtype == dns.rdatatype.ANY or _owner(state.view, qname) is not None:
        return None
    if state.behaviour(None, "dns", qname) is not None:
        return None
    header = struct.pack("!6H", ident, 0x8000 | 0x0400 | (flags & 0x0100) | dns.rcode.NXDOMAIN, 1, 0, 1, 0)
    return header + wire[12:pos + 4] + _tld_soa_wire(labels[-1])


def answer(wire: bytes, state: LiveState, tcp: bool) -> bytes | None:
    """The response to one query, or None to stay silent (the dns-timeout behaviour)."""
    fast = _fast_nxdomain(wire, state)
    if fast is not None:
        return fast
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    if not query.question:
        return _finish(_response(query, dns.rcode.FORMERR), query, tcp)
    question = query.question[0]
    qname = question.name.to_text(omit_final_dot=True).lower()
    qtype = question.rdtype
    view = state.view
    owner = _owner(view, qname)
    behaviour = state.behaviour(owner, "dns")
    if behaviour == "dns-timeout":
        return None
    if behaviour == "dns-garbage":
        return GARBAGE
    response = _response(query, dns.rcode.NOERROR)
    if behaviour in ("dns-servfail", "dns-refused"):
        response.set_rcode(dns.rcode.SERVFAIL if behaviour == "dns-servfail" else dns.rcode.REFUSED)
        response.flags &= ~dns.flags.AA
        return _finish(response, query, tcp)
    if behaviour == "dns-truncated" and not tcp:
        response.flags |= dns.flags.TC
        return response.to_wire()
    if qtype == dns.rdatatype.ANY:
        response.set_rcode(dns.rcode.NOTIMP)
        return _finish(response, query, tcp)
    if owner is None or not owner.resolves:
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(_tld_soa(qname))
        return _finish(response, query, tcp)
    apex = owner.name
    if behaviour == "dns-cname-loop" and qname in (apex, f"loop.{apex}"):
        target = f"loop.{apex}" if qname == apex else apex
        response.answer.append(_rrset(qname, dns.rdatatype.CNAME, [f"{target}."]))
        return _finish(response, query, tcp)
    if qname != apex and not (owner.www and qname == f"www.{apex}"):
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(_soa(owner))
        return _finish(response, query, tcp)
    records = _records(owner, qname, qtype, state, huge_txt=behaviour == "dns-huge-txt")
    if records:
        response.answer.append(records)
    else:
        response.authority.append(_soa(owner))
    return _finish(response, query, tcp)


def _records(owner: DomainState, qname: str, qtype: int, state: LiveState, huge_txt: bool) -> dns.rrset.RRset | None:
    apex = qname == owner.name
    if owner.cname and apex:
        return _rrset(qname, dns.rdatatype.CNAME, [f"{owner.cname}."])
    texts: list[str] = []
    if qtype == dns.rdatatype.A:
        texts = list(state.served_ips(owner.a))
    elif qtype == dns.rdatatype.AAAA and not state.ip_map:
        texts = list(owner.aaaa)
    elif not apex:
        return None
    elif qtype == dns.rdatatype.NS:
        texts = [f"{h}." for h in owner.ns]
    elif qtype == dns.rdatatype.MX:
        texts = [f"{pref} {host}." for pref, host in owner.mx]
    elif qtype == dns.rdatatype.TXT:
        values = list(owner.txt)
        if huge_txt:
            values += [f"sandbox-huge-{i:03d}-" + "x" * 230 for i in range(120)]
        texts = [" ".join(_quote(v[i:i + 255]) for i in range(0, max(len(v), 1), 255)) for v in values]
    elif qtype == dns.rdatatype.SOA:
        return _soa(owner)
    return _rrset(qname, qtype, texts) if texts else None


def _owner(view: PhaseView, qname: str) -> DomainState | None:
    labels = qname.split(".")
    for i in range(len(labels) - 1):
        state = view.domains.get(".".join(labels[i:]))
        if state is not None:
            return state
    return view.wildcard_owner(qname)


def _response(query: dns.message.Message, rcode: int) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.flags &= ~dns.flags.RA
    response.set_rcode(rcode)
    return response


def _finish(response: dns.message.Message, query: dns.message.Message, tcp: bool) -> bytes:
    limit = 65535 if tcp else (max(512, query.payload) if query.edns >= 0 else 512)
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        truncated = _response(query, response.rcode())
        truncated.flags |= dns.flags.TC
        return truncated.to_wire()


def _rrset(name: str, rdtype: int, texts: list[str]) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(f"{name}.", TTL, dns.rdataclass.IN, rdtype, texts)


def _soa(owner: DomainState) -> dns.rrset.RRset:
    mname = owner.ns[0] if owner.ns else f"ns1.{owner.name}"
    serial = int(owner.rdap.updated.strftime("%Y%m%d01")) if owner.rdap else 2024010101
    return _rrset(owner.name, dns.rdatatype.SOA,
                  [f"{mname}. hostmaster.{owner.name}. {serial} 10800 3600 604800 {TTL}"])


def _tld_soa(qname: str) -> dns.rrset.RRset:
    tld = qname.rsplit(".", 1)[-1] or "invalid"
    return _rrset(tld, dns.rdatatype.SOA, [f"a.nic.{tld}. hostmaster.nic.{tld}. 2024090601 1800 900 604800 {TTL}"])


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
