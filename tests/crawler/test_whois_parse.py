"""Port-43 WHOIS answers as registries write them, parsed into registration records (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.settings import parse_whois_server
from crawler.whois import parse_date, parse_whois
from detect.model import WHOIS_MARK, ErrorKind

NOW = datetime(2024, 9, 6, tzinfo=UTC)

ICANN_STYLE = """Domain Name: RRN.SO
Registry Domain ID: D123-SO
Updated Date: 2024-09-05T10:15:00Z
Creation Date: 2024-09-05T10:12:44Z
Registry Expiry Date: 2025-09-05T10:12:44Z
Registrar: Domainwerk Rhein GmbH
Registrar IANA ID: 9999
Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited
Domain Status: serverHold https://icann.org/epp#serverHold
Name Server: NS1.EXAMPLE-DNS.NET
Name Server: ns2.example-dns.net
>>> Last update of WHOIS database: 2024-09-06T00:00:00Z <<<
"""

TCI_STYLE = """% TCI Whois Service. Terms of use:

domain:        RIA-NEWS.RU
nserver:       ns1.example.ru.
nserver:       ns2.example.ru.
state:         REGISTERED, DELEGATED, UNVERIFIED
registrar:     RU-CENTER-RU
created:       2024-09-05T09:00:00Z
paid-till:     2025-09-05T09:00:00Z
source:        TCI
"""

CZNIC_STYLE = """%  (c) 2006-2024 CZ.NIC, z.s.p.o.

domain:       novinky-dnes.cz
registrar:    REG-EXAMPLE
registered:   05.09.2024 10:12:44
expire:       05.09.2025
nserver:      ns1.example.cz
"""


def test_icann_style_answer() -> None:
    rec = parse_whois("rrn.so", ICANN_STYLE, NOW)
    assert rec.error_kind is None and rec.source == "whois" and rec.via == WHOIS_MARK
    assert rec.registered == datetime(2024, 9, 5, 10, 12, 44, tzinfo=UTC)
    assert rec.expires == datetime(2025, 9, 5, 10, 12, 44, tzinfo=UTC)
    assert rec.changed == datetime(2024, 9, 5, 10, 15, tzinfo=UTC)  # "Updated Date"
    assert rec.registrar == "Domainwerk Rhein GmbH"
    assert rec.statuses == ("client transfer prohibited", "server hold")
    assert rec.nameservers == ("ns1.example-dns.net", "ns2.example-dns.net")
    assert rec.raw == ICANN_STYLE and rec.observed_at == NOW


def test_registry_specific_answers_through_asyncwhois_parsers() -> None:
    ru = parse_whois("ria-news.ru", TCI_STYLE, NOW)
    assert ru.registered == datetime(2024, 9, 5, 9, tzinfo=UTC) and ru.registrar == "RU-CENTER-RU"
    assert ru.nameservers == ("ns1.example.ru", "ns2.example.ru")
    assert ru.statuses == ("registered", "delegated", "unverified")
    cz = parse_whois("novinky-dnes.cz", CZNIC_STYLE, NOW)
    assert cz.registered == datetime(2024, 9, 5, 10, 12, 44, tzinfo=UTC)  # day first, not 9 May
    assert cz.expires == datetime(2025, 9, 5, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-09-05T10:12:44Z", datetime(2024, 9, 5, 10, 12, 44, tzinfo=UTC)),
    ("2024-09-05T10:12:44.5Z", datetime(2024, 9, 5, 10, 12, 44, 500000, tzinfo=UTC)),
    ("2024-09-05T12:12:44+02:00", datetime(2024, 9, 5, 10, 12, 44, tzinfo=UTC)),
    ("2024-09-05 10:12:44 UTC", datetime(2024, 9, 5, 10, 12, 44, tzinfo=UTC)),
    ("2024-09-05", datetime(2024, 9, 5, tzinfo=UTC)),
    ("05.09.2024", datetime(2024, 9, 5, tzinfo=UTC)),
    ("05-Sep-2024", datetime(2024, 9, 5, tzinfo=UTC)),
    ("2024.09.05 10:00:00", datetime(2024, 9, 5, 10, tzinfo=UTC)),
    ("2024/09/05", datetime(2024, 9, 5, tzinfo=UTC)),
    ("Thu Sep 05 2024", datetime(2024, 9, 5, tzinfo=UTC)),
])
def test_whois_dates_in_registries_forms_are_utc(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "garbage", "before 1996", "99.99.2024", "2024-13-45"])
def test_unreadable_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


def test_not_found_empty_garbage_and_rate_limit_text_are_typed() -> None:
    missing = parse_whois("x.so", 'No match for "X.SO".\n', NOW)
    assert (missing.error_kind, missing.error) == (ErrorKind.OTHER, "not found")
    assert parse_whois("x.so", "  \n", NOW).error_kind is ErrorKind.MALFORMED
    # a record that mentions "not found" somewhere (an empty contact field) is still a record
    noisy = parse_whois("rrn.so", ICANN_STYLE + "Registrant Email: not found\n", NOW)
    assert noisy.error_kind is None and noisy.registered is not None
    junk = parse_whois("x.so", "\x00\xff<html><body>502 Bad Gateway</body></html>", NOW)
    assert junk.error_kind is ErrorKind.MALFORMED and junk.registered is None
    assert "no registration data" in junk.error


def test_whois_server_setting_forms() -> None:
    assert parse_whois_server("whois.nic.so") == ("whois.nic.so", 43)
    assert parse_whois_server("127.0.0.1:4343") == ("127.0.0.1", 4343)
    for bad in ("", "host:0", "host:x", "a b", "http://whois.nic.so", "[::1]:43", "user@host"):
        with pytest.raises(ValueError):
            parse_whois_server(bad)
