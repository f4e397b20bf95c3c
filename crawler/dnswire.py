"""DNS wire format for the prober: query templates and a light answer parser. Pure (no I/O).

The hot path of a sweep builds millions of queries and reads millions of answers, so this module
avoids dns.message: a query is a pre-built header with the id and qname patched in, and an answer is
read only as far as needed (header, question check, answer section). dnspython still supplies the
name codec for escaped/IDN names and the rdata codec for record types without a fast path; the tests
check this parser against dns.message.from_wire.
"""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass

from detect.model import Rcode

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
# RD=1 (works against recursive and authoritative servers), one question, one OPT record.
_FLAGS_QUERY = 0x0100
# EDNS0 OPT: root owner, type 41, UDP payload 1232 (the DNS-flag-day size), no options.
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
_UPPER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")

_LENGTHS = [bytes((n,)) for n in range(64)]
_COMMON_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
# a lower-case ASCII name without escapes, empty labels or a final dot; labels of 1-63 characters
_PLAIN_NAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
RCODE_NOERROR, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED = 0, 1, 2, 3, 4, 5
RCODES = {RCODE_NOERROR: Rcode.NOERROR, RCODE_NXDOMAIN: Rcode.NXDOMAIN, RCODE_SERVFAIL: Rcode.SERVFAIL,
          RCODE_REFUSED: Rcode.REFUSED}


class WireError(ValueError):
    """A name that cannot be asked, or an answer that cannot be read."""


def qname_wire(name: str) -> bytes:
    """Lower-case wire form of ``name`` (absolute). Plain ASCII names take a fast path; escaped or
    internationalised names go through dnspython's codec (IDNA 2008, practical)."""
    text = name.strip().rstrip(".").lower()
    if not text:
        raise WireError("empty name")
    if text.isascii() and "\\" not in text:
        labels = text.encode("ascii").split(b".")
        for label in labels:
            if not 0 < len(label) < 64:
                raise WireError(f"bad label length in {name!r}")
        out = b"".join([_LENGTHS[len(label)] + label for label in labels]) + b"\x00"
        if len(out) > 255:
            raise WireError(f"name too long: {name!r}")
        return out
    import dns.exception  # dnspython only for the rare names and types (a sweep's CLI starts without it)
    import dns.name

    try:
        parsed = dns.name.from_unicode(text, idna_codec=dns.name.IDNA_2008_Practical)
        return parsed.to_wire().translate(_UPPER)  # type: ignore[union-attr]
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise WireError(f"bad name {name!r}: {exc}") from None


def normalise(name: str) -> tuple[str, bytes]:
    """(presentation name, wire qname) for an input name; WireError when it cannot be asked."""
    if len(name) <= 253 and _PLAIN_NAME.fullmatch(name):  # already clean (the bulk of a sweep): as below, quicker
        return name, b"".join([_LENGTHS[len(label)] + label for label in name.encode("ascii").split(b".")]) + b"\x00"
    wire = qname_wire(name)
    text = name.strip().rstrip(".").lower()
    if not text.isascii() or "\\" in text:
        text = name_text(wire)
    return text, wire


def name_text(wire: bytes) -> str:
    """Presentation form of a wire name: lower case, no trailing dot ("." for the root)."""
    labels = []
    i = 0
    while wire[i]:
        n = wire[i]
        labels.append(wire[i + 1:i + 1 + n])
        i += n + 1
    return _labels_text(labels)


def _labels_text(labels: list[bytes]) -> str:
    if not labels:
        return "."
    if all(_SAFE.issuperset(label) for label in labels):
        return b".".join(labels).decode("ascii")
    import dns.name

    return dns.name.Name([*labels, b""]).to_text(omit_final_dot=True).lower()


def rdtype_of(text: str) -> int:
    """Numeric record type for a mnemonic ("A", "mx"); WireError for unknown types."""
    mnemonic = text.strip().upper()
    if mnemonic in _COMMON_TYPES:
        return _COMMON_TYPES[mnemonic]
    import dns.rdatatype

    try:
        return int(dns.rdatatype.from_text(mnemonic))
    except dns.rdatatype.UnknownRdatatype:
        raise WireError(f"unknown record type {text!r}") from None


_QUERY_HEAD = _HEADER.pack(0, _FLAGS_QUERY, 1, 0, 0, 1)[2:]


class Question:
    """One question's pre-built wire: the query minus its id, and the bytes an answer must echo.
    (A slotted class, not a frozen dataclass: one is built per query on the hot path.)"""

    __slots__ = ("body", "qname", "rdtype", "typeclass")

    def __init__(self, qname: bytes, rdtype: int) -> None:
        self.qname = qname
        self.rdtype = rdtype
        self.typeclass = struct.pack("!HH", rdtype, 1)  # qtype and qclass as an answer must echo them
        self.body = _QUERY_HEAD + qname + self.typeclass + _OPT  # everything after the 2-byte id

    @classmethod
    def make(cls, qname: bytes, rdtype: int) -> Question:
        return cls(qname, rdtype)

    def query(self, qid: int) -> bytes:
        return qid.to_bytes(2, "big") + self.body


@dataclass(frozen=True)
class Reply:
    """What the prober needs from one answer: rcode, TC bit, and the records of the asked type
    (following the CNAME chain from the qname), plus the qname's own CNAME target."""

    rcode: int
    truncated: bool
    records: tuple[str, ...] = ()
    cname: str = ""


def reply_id(data: bytes) -> int:
    return (data[0] << 8) | data[1] if len(data) >= 2 else -1


def _read_name(data: bytes, off: int) -> tuple[list[bytes], int]:
    """Labels of the (possibly compressed) name at ``off`` and the offset after it."""
    labels: list[bytes] = []
    end = -1
    hops = 0
    total = 0
    while True:
        if off >= len(data):
            raise WireError("name runs past the end")
        n = data[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(data):
                raise WireError("truncated pointer")
            target = ((n & 0x3F) << 8) | data[off + 1]
            if end < 0:
                end = off + 2
            if target >= off or hops > 127:
                raise WireError("bad compression pointer")
            hops += 1
            off = target
            continue
        if n & 0xC0:
            raise WireError("bad label type")
        label = data[off + 1:off + 1 + n]
        if len(label) != n:
            raise WireError("label runs past the end")
        total += n + 1
        if total > 255:
            raise WireError("name too long")
        labels.append(label.translate(_UPPER))
        off += n + 1
    return labels, (end if end >= 0 else off)


def _rdata_text(data: bytes, rdtype: int, start: int, length: int) -> str:
    end = start + length
    if rdtype == 1:
        if length != 4:
            raise WireError("bad A record")
        return f"{data[start]}.{data[start + 1]}.{data[start + 2]}.{data[start + 3]}"
    if rdtype == 28:
        if length != 16:
            raise WireError("bad AAAA record")
        return socket.inet_ntop(socket.AF_INET6, data[start:end])
    if rdtype in (2, 5, 12):  # NS, CNAME, PTR
        labels, after = _read_name(data, start)
        if after != end:
            raise WireError("bad name record")
        return _labels_text(labels)
    if rdtype == 15:  # MX
        if length < 3:
            raise WireError("bad MX record")
        labels, after = _read_name(data, start + 2)
        if after != end:
            raise WireError("bad MX record")
        return f"{(data[start] << 8) | data[start + 1]} {_labels_text(labels)}"
    if rdtype == 6:  # SOA
        mname, off = _read_name(data, start)
        rname, off = _read_name(data, off)
        if off + 20 != end:
            raise WireError("bad SOA record")
        numbers = struct.unpack_from("!IIIII", data, off)
        return " ".join([_labels_text(mname), _labels_text(rname), *map(str, numbers)])
    if rdtype == 16:  # TXT: character-strings joined, unquoted
        parts = []
        off = start
        while off < end:
            n = data[off]
            if off + 1 + n > end:
                raise WireError("bad TXT record")
            parts.append(data[off + 1:off + 1 + n])
            off += 1 + n
        return b"".join(parts).decode("utf-8", "backslashreplace")
    import dns.exception
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    try:
        rd = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, data, start, length)
    except dns.exception.DNSException as exc:
        raise WireError(f"bad {dns.rdatatype.to_text(rdtype)} record: {exc}") from None
    return rd.to_text()


def parse_reply(data: bytes, question: Question) -> Reply | None:
    """Read an answer to ``question`` (whose id the caller already matched).

    None means "not an answer to this question" (not a response, wrong question): the caller keeps
    waiting. WireError means the packet claims to answer it but is malformed.
    """
    if len(data) < 12:
        return None
    _, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(data)
    if not flags & 0x8000 or (flags >> 11) & 0xF:
        return None  # a query, or another opcode
    rcode = flags & 0xF
    truncated = bool(flags & 0x0200)
    qlen = len(question.qname) + 4
    off = 12
    if qdcount == 1:
        got = data[12:12 + qlen]
        if len(got) != qlen or got[-4:] != question.typeclass or got[:-4].translate(_UPPER) != question.qname:
            return None
        off += qlen
    elif qdcount != 0 or rcode == RCODE_NOERROR:
        return None  # only error answers may omit the question
    if truncated or rcode != RCODE_NOERROR:
        return Reply(rcode, truncated)
    owners = {question.qname}
    chain_owner = question.qname
    records: list[str] = []
    cname = ""
    rdtype = question.rdtype
    for _ in range(ancount):
        if data[off:off + 2] == b"\xc0\x0c":
            owner = question.qname
            off += 2
        else:
            labels, off = _read_name(data, off)
            owner = b"".join(bytes([len(lb)]) + lb for lb in labels) + b"\x00"
        if off + 10 > len(data):
            raise WireError("answer record runs past the end")
        rtype, rclass, _, rdlength = _RR.unpack_from(data, off)
        off += 10
        if off + rdlength > len(data):
            raise WireError("record data runs past the end")
        if rclass == 1 and owner in owners:
            if rtype == rdtype:
                records.append(_rdata_text(data, rtype, off, rdlength))
            elif rtype == 5 and owner == chain_owner:
                labels, _ = _read_name(data, off)
                target = b"".join(bytes([len(lb)]) + lb for lb in labels) + b"\x00"
                if owner == question.qname:
                    cname = _labels_text(labels)
                owners.add(target)
                chain_owner = target
        off += rdlength
    return Reply(rcode, truncated, tuple(dict.fromkeys(records)), cname)


def judge(rcode: int, server: object, *, may_retry: bool) -> tuple[Rcode, str] | None:
    """What an answer's rcode means for its question, in both probers (crawler/dnsengine.py and
    crawler/dnsfast.py): None to ask again at another server (SERVFAIL or REFUSED while ``may_retry``:
    another server may do better), else the outcome and its error text ("" for NOERROR and NXDOMAIN;
    an rcode outside RCODES is an ERROR)."""
    outcome = RCODES.get(rcode)
    if outcome is None:
        return Rcode.ERROR, f"rcode {rcode}"
    if outcome is Rcode.NOERROR or outcome is Rcode.NXDOMAIN:
        return outcome, ""
    if may_retry:
        return None
    return outcome, f"{outcome.value} from {server}"
