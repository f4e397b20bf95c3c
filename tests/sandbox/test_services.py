"""RDAP, CT search, the NRD feed and SMTP, per phase."""

from __future__ import annotations

import smtplib
import urllib.request
from email.message import EmailMessage

import pytest

from sandbox.net import Sandbox
from tests.sandbox.helpers import get_json

pytestmark = pytest.mark.sandbox


def rdap(sb: Sandbox, name: str) -> tuple[int, object]:
    return get_json(f"{sb.config_overrides()['rdap']['servers']['*']}domain/{name}")


def test_rdap_domain_object(sandbox: Sandbox) -> None:
    status, data = rdap(sandbox, "washingtonpost.pm")
    assert status == 200 and isinstance(data, dict)
    assert data["objectClassName"] == "domain" and data["ldhName"] == "washingtonpost.pm"
    events = {e["eventAction"]: e["eventDate"] for e in data["events"]}
    assert events["registration"] == "2023-11-10T00:00:00Z"
    registrar = next(e for e in data["entities"] if "registrar" in e["roles"])
    assert registrar["vcardArray"][1][1] == ["fn", {}, "text", "NameSilo, LLC"]
    assert [n["ldhName"] for n in data["nameservers"]] == ["amy.ns.cloudflare.com", "bob.ns.cloudflare.com"]


def test_rdap_per_phase_holds_seizure_and_replacements(sandbox: Sandbox) -> None:
    assert rdap(sandbox, "rrn.so")[0] == 404
    sandbox.set_phase("seizure")
    _, held = rdap(sandbox, "artichoc.io")
    assert "client hold" in held["status"]  # type: ignore[index]
    _, seized = rdap(sandbox, "washingtonpost.pm")
    assert "server transfer prohibited" in seized["status"]  # type: ignore[index]
    assert [n["ldhName"] for n in seized["nameservers"]] == ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"]  # type: ignore[index]
    _, new = rdap(sandbox, "rrn.so")
    events = {e["eventAction"]: e["eventDate"] for e in new["events"]}  # type: ignore[index]
    assert events["registration"].startswith("2024-09-05")
    _, old = rdap(sandbox, "rrn.media")
    fn = lambda d: next(e for e in d["entities"] if "registrar" in e["roles"])["vcardArray"][1][1][3]
    assert fn(new) == "Domainwerk Rhein GmbH" != fn(old)


def test_rdap_unknown_and_hostile(sandbox: Sandbox) -> None:
    assert rdap(sandbox, "unknown-name.example")[0] == 404
    sandbox.set_behaviour("rrn.media", "rdap-429")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sandbox.ports['rdap']}/domain/rrn.media", timeout=5)
    except urllib.error.HTTPError as err:
        assert err.code == 429 and err.headers["Retry-After"] == "2"
    sandbox.set_behaviour("rrn.media", "rdap-500")
    assert rdap(sandbox, "rrn.media")[0] == 500
    sandbox.set_behaviour("rrn.media", "rdap-malformed")
    with pytest.raises(ValueError):
        rdap(sandbox, "rrn.media")


def ct(sb: Sandbox, keyword: str) -> list[dict[str, object]]:
    url = sb.config_overrides()["discovery"]["ct_search_url"].format(query=f"%25{keyword}%25")
    status, rows = get_json(url)
    assert status == 200
    return rows  # type: ignore[no-any-return]


def test_ct_search_matches_like_pattern_per_phase(sandbox: Sandbox) -> None:
    before = {r["common_name"] for r in ct(sandbox, "RRN")}
    assert {"rrn.media", "rrn.world", "rrn-logistics.com", "rrnews24.net"} <= before and "rrn.so" not in before
    sandbox.set_phase("seizure")
    rows = ct(sandbox, "rrn")
    assert "rrn.so" in {r["common_name"] for r in rows}
    row = rows[0]
    assert set(row) == {"issuer_ca_id", "issuer_name", "common_name", "name_value", "id", "entry_timestamp",
                        "not_before", "not_after", "serial_number", "result_count"}
    assert row["result_count"] == len(rows)
    so = next(r for r in rows if r["common_name"] == "rrn.so")
    assert so["name_value"] == "rrn.so\nwww.rrn.so" and str(so["entry_timestamp"]).startswith("2024-09-05")


def test_ct_garbage_is_not_json(sandbox: Sandbox) -> None:
    sandbox.set_service_behaviour("ct", "ct-garbage")
    url = sandbox.config_overrides()["discovery"]["ct_search_url"].format(query="%25rrn%25")
    with pytest.raises(ValueError):
        get_json(url)


def nrd(sb: Sandbox) -> list[str]:
    with urllib.request.urlopen(sb.config_overrides()["discovery"]["nrd_feeds"][0], timeout=5) as resp:
        return resp.read().decode().split()


def test_nrd_feed_per_phase(sandbox: Sandbox) -> None:
    before = nrd(sandbox)
    assert len(before) > 2000 and "rrn.so" not in before and nrd(sandbox) == before
    sandbox.set_phase("seizure")
    after = nrd(sandbox)
    assert {"rrn.so", "artichoc.cc", "50statesoflie.so", "artichoke.shop"} <= set(after)
    assert "rrn.media" not in after


def test_smtp_records_messages_and_can_go_down(sandbox: Sandbox) -> None:
    alerts = sandbox.config_overrides()["alerts"]
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "clone: rrn.so", alerts["mail_from"], alerts["mail_to"][0]
    msg.set_content("predecessor rrn.media")
    with smtplib.SMTP(alerts["smtp_host"], alerts["smtp_port"], timeout=5) as smtp:
        smtp.send_message(msg)
    got = sandbox.wait_for_messages(1)
    assert got[0]["Subject"] == "clone: rrn.so" and "rrn.media" in got[0].get_content()
    sandbox.smtp_down()
    with pytest.raises(OSError):
        smtplib.SMTP(alerts["smtp_host"], alerts["smtp_port"], timeout=2)
    sandbox.smtp_up()
    with smtplib.SMTP(alerts["smtp_host"], alerts["smtp_port"], timeout=5) as smtp:
        smtp.login("user", "secret")
        smtp.send_message(msg)
    assert len(sandbox.wait_for_messages(2)) == 2
