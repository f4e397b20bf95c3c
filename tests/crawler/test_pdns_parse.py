"""Passive-DNS answers in the Common Output Format (CIRCL's REST/JSON), line by line (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.pdns import PdnsRecord, names_on, parse_answer, parse_line
from detect.model import Indicator
from scheduler.hunt_pdns import asked_values, registrable_names
from tests.detect.scoring_world import site

LINE = ('{"count": 7, "origin": "https://www.circl.lu/pdns/", "time_first": 1725530400, "rrtype": "A", '
        '"rrname": "Morning-Ledger.ORG.", "rdata": "185.44.12.21", "time_last": 1725616800}')


def test_a_cof_line_becomes_a_record() -> None:
    rec = parse_line(LINE)
    assert rec == PdnsRecord(rrname="morning-ledger.org", rrtype="A", rdata=("185.44.12.21",),
                             time_first=datetime(2024, 9, 5, 10, tzinfo=UTC),
                             time_last=datetime(2024, 9, 6, 10, tzinfo=UTC), count=7)


def test_ns_rdata_lists_and_iso_times() -> None:
    rec = parse_line('{"rrname": "a.example", "rrtype": "ns", "rdata": ["NS1.Quillhost.NET.", "ns2.quillhost.net"],'
                     ' "time_first": "2024-09-05T10:00:00Z", "time_last": "2024-09-06 10:00:00"}')
    assert rec is not None and rec.rrtype == "NS" and rec.rdata == ("ns1.quillhost.net", "ns2.quillhost.net")
    assert rec.time_first == datetime(2024, 9, 5, 10, tzinfo=UTC)
    assert rec.time_last == datetime(2024, 9, 6, 10, tzinfo=UTC)  # no zone: UTC
    assert rec.count is None


@pytest.mark.parametrize("line", [
    "{not json", "[1, 2]", '"text"', "null", '{"rrname": "x.example", "rrtype": "A"}',
    '{"rrname": "", "rrtype": "A", "rdata": "1.2.3.4"}', '{"rrname": "x", "rrtype": 1, "rdata": "1.2.3.4"}',
    '{"rrname": "x", "rrtype": "A", "rdata": []}', '{"rrname": "x", "rrtype": "A", "rdata": [1]}',
])
def test_lines_that_are_not_records_are_none(line: str) -> None:
    assert parse_line(line) is None


def test_odd_times_and_counts_are_dropped_not_fatal() -> None:
    rec = parse_line('{"rrname": "x.example", "rrtype": "A", "rdata": "1.2.3.4", "time_first": 1e30, '
                     '"time_last": "yesterday", "count": true}')
    assert rec is not None and rec.time_first is None and rec.time_last is None and rec.count is None


def test_an_answer_counts_malformed_lines_and_names_on_a_value() -> None:
    text = "\n".join([LINE, "", "{broken", LINE.replace("Morning-Ledger.ORG.", "www.morning-ledger.org"),
                      '{"rrname": "b.example", "rrtype": "NS", "rdata": "ns1.quillhost.net"}',
                      '{"rrname": "185.44.12.21", "rrtype": "PTR", "rdata": "host.quillhost.net"}',
                      '{"rrname": "c.example", "rrtype": "MX", "rdata": "185.44.12.21"}'])
    answer = parse_answer("185.44.12.21", text)
    assert answer.malformed == 1 and len(answer.records) == 5
    assert names_on(answer, "185.44.12.21") == {"morning-ledger.org", "www.morning-ledger.org"}
    assert names_on(answer, "NS1.quillhost.net.") == {"b.example"}


def test_registrable_names_drop_the_network_and_junk() -> None:
    names = ["www.morning-ledger.org", "morning-ledger.org", "quill-courier.info", "bad..name", "x" * 300, "localhost"]
    assert registrable_names(names, {"quill-courier.info"}) == ["morning-ledger.org"]


def test_commodity_values_are_never_asked_and_each_value_has_its_seed() -> None:
    own_ip, cdn_ip = Indicator("ip", "185.44.12.21"), Indicator("ip", "104.16.1.1")
    own_ns, shared_ns = Indicator("ns", "ns1.quillhost.net"), Indicator("ns", "amy.ns.cloudflare.com")
    net = [site("quill-courier.info", network=True, ind=[("ip", "185.44.12.21"), ("ip", "104.16.1.1"),
                                                        ("ns", "ns1.quillhost.net"), ("ns", "amy.ns.cloudflare.com"),
                                                        ("ga", "G-1")])]
    assert asked_values(net, {own_ip, cdn_ip, own_ns, shared_ns}) == [
        (own_ip, "quill-courier.info"), (own_ns, "quill-courier.info")]
